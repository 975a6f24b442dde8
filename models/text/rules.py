"""The text normalisation rule table: ordered regex rewrites that both front-end engines apply.

Engines apply PRE_LOWERCASE_RULES, lowercase ASCII A-Z, then POST_LOWERCASE_RULES (normalize.py
with Python `re`, tf_frontend.py with RE2 via tf.strings.regex_replace).
"""

from __future__ import annotations

from typing import NamedTuple

# Bump whenever a rule changes what any input normalises to: it is recorded with every model.
RULES_VERSION = 1


class Rule(NamedTuple):
    """Replace every match of `pattern` by `replacement`; run the whole pass `repeat` times."""

    pattern: str
    replacement: str
    repeat: int = 1


# --- The dialect: the common subset of Python `re` and RE2 ---------------------------------------
# Both engines must produce the same bytes, so the rules keep to what both read the same way:
# - no lookaround and no backreferences in patterns; replacements use only \1..\9, never followed
#   directly by a digit (Python would read "\10" as group ten);
# - digits are [0-9], never \d (Python's \d matches every Unicode digit);
# - \b only once the text is ASCII (Python's \b knows Unicode letters, RE2's does not);
# - `$` only once whitespace is collapsed to single spaces (Python's `$` also matches before a
#   trailing newline);
# - no pattern may match the empty string (the engines step past empty matches differently).
#
# Markers. Stage 0 turns every control character into a space, so control characters are free to
# mark things before lowercasing (the currency signs below); after lowercasing, the text has no
# capital letters, so capitalised words are the markers from then on:
#   N<digits>   a number to read as a cardinal, never as a year
#   Q<digits>   digits to read one by one
#   ORD / PL    make the number before it ordinal ("first") / plural ("eighties")
#   K M B T     thousand / million / billion groups and tens, while numbers become words
#   MAJx MINx   the major / minor unit of currency x, until singular or plural is known
# The last cleanup rule keeps only symbol-table characters, so no marker can reach the output.

POUND = "\x01"
EURO = "\x02"
YEN = "\x03"

ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEENS = (
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def _rules(*pairs: tuple[str, str]) -> tuple[Rule, ...]:
    return tuple(Rule(pattern, replacement) for pattern, replacement in pairs)


# --- Stage 0: whitespace and control characters --------------------------------------------------
WHITESPACE_RULES = _rules(
    # C0 and C1 controls (tabs and newlines included) and Unicode spaces become plain spaces.
    (r"[\x00-\x1f\x7f-\x9f" + "\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]", " "),
)

# --- Stage 1: Unicode to ASCII -------------------------------------------------------------------
# Symbols and punctuation first, multi-character sequences before their parts.
UNICODE_SYMBOL_RULES = _rules(
    ("°[Cc]|℃", " degrees celsius "),
    ("°[Ff]|℉", " degrees fahrenheit "),
    ("°", " degrees "),
    ("([0-9]) ?([¼½¾⅓⅔])", r"\1 and \2"),  # 2½ -> 2 and one half
    ("¼", " one quarter "),
    ("½", " one half "),
    ("¾", " three quarters "),
    ("⅓", " one third "),
    ("⅔", " two thirds "),
    ("²", " squared "),
    ("³", " cubed "),
    ("±", " plus or minus "),
    ("×", " times "),
    ("÷", " divided by "),
    ("©", " copyright "),
    ("§", " section "),
    ("№", " number "),
    ("[µμ]", "micro"),
    ("¢", " cents "),
    ("£", POUND),
    ("€", EURO),
    ("¥", YEN),
    ("[`´‘’‚‛′ʹʼ]", "'"),
    ("[«»‹›“”„‟″]", '"'),
    ("[‐‑−]", "-"),  # hyphens and the minus sign
    ("[‒–—―]", " - "),  # figure, en, em and horizontal-bar dashes
    ("…", "..."),
    ("‥", ".."),
    ("[•·‣⁃∙]", " "),
)

# Letters of Latin-1 Supplement, Latin Extended-A/-B/Additional, ligatures and fullwidth forms,
# upper and lower case together (lowercasing comes next anyway). Generated at dev time from
# unidecode, keeping only characters it spells with plain letters; stored here as data.
UNICODE_LETTER_RULES = _rules(
    ("[ﬃ]", "ffi"),
    ("[ﬄ]", "ffl"),
    ("[ÆæǢǣǼǽ]", "ae"),
    ("[ǄǅǆǱǲǳ]", "dz"),
    ("[ﬀ]", "ff"),
    ("[ﬁ]", "fi"),
    ("[ﬂ]", "fl"),
    ("[Ĳĳ]", "ij"),
    ("[Ǉǈǉ]", "lj"),
    ("[Ŋŋ]", "ng"),
    ("[Ǌǋǌ]", "nj"),
    ("[Œœ]", "oe"),
    ("[ßẞ]", "ss"),
    ("[ﬅﬆ]", "st"),
    ("[Þþ]", "th"),
    ("[ÀÁÂÃÄÅàáâãäåĀāĂăĄąǍǎǞǟǠǡǺǻȀȁȂȃȦȧȺḀḁẚẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặÅＡａ]", "a"),
    ("[ƀƁƂƃɃḂḃḄḅḆḇＢｂ]", "b"),
    ("[ÇçĆćĈĉĊċČčƇƈȻȼḈḉＣｃ]", "c"),
    ("[ÐðĎďĐđƉƊƋƌƍȡḊḋḌḍḎḏḐḑḒḓＤｄ]", "d"),
    ("[ÈÉÊËèéêëĒēĔĕĖėĘęĚěƐȄȅȆȇȨȩɆɇḔḕḖḗḘḙḚḛḜḝẸẹẺẻẼẽẾếỀềỂểỄễỆệＥｅ]", "e"),
    ("[ƑƒḞḟＦｆ]", "f"),
    ("[ĜĝĞğĠġĢģƓƔǤǥǦǧǴǵḠḡＧｇ]", "g"),
    ("[ĤĥĦħȞȟḢḣḤḥḦḧḨḩḪḫẖＨｈ]", "h"),
    ("[ÌÍÎÏìíîïĨĩĪīĬĭĮįİıƖƗǏǐȈȉȊȋḬḭḮḯỈỉỊịＩｉ]", "i"),
    ("[ĴĵǰȷɈɉＪｊ]", "j"),
    ("[ĶķĸƘƙǨǩḰḱḲḳḴḵＫｋ]", "k"),
    ("[ĹĺĻļĽľĿŀŁłƚƛȴȽḶḷḸḹḺḻḼḽＬｌ]", "l"),
    ("[ḾḿṀṁṂṃＭｍ]", "m"),
    ("[ÑñŃńŅņŇňŉƝƞǸǹȠȵṄṅṆṇṈṉṊṋＮｎ]", "n"),
    ("[ÒÓÔÕÖØòóôõöøŌōŎŏŐőƆƟƠơǑǒǪǫǬǭǾǿȌȍȎȏȪȫȬȭȮȯȰȱṌṍṎṏṐṑṒṓỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợＯｏ]", "o"),
    ("[ƤƥṔṕṖṗＰｐ]", "p"),
    ("[ɊɋＱｑ]", "q"),
    ("[ŔŕŖŗŘřȐȑȒȓɌɍṘṙṚṛṜṝṞṟＲｒ]", "r"),
    ("[ŚśŜŝŞşŠšſȘșȿṠṡṢṣṤṥṦṧṨṩẛＳｓ]", "s"),
    ("[ŢţŤťŦŧƫƬƭƮȚțȶȾṪṫṬṭṮṯṰṱẗＴｔ]", "t"),
    ("[ÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲųƯưǓǔǕǖǗǘǙǚǛǜȔȕȖȗɄṲṳṴṵṶṷṸṹṺṻỤụỦủỨứỪừỬửỮữỰựＵｕ]", "u"),
    ("[ƲṼṽṾṿＶｖ]", "v"),
    ("[ŴŵƜƿǷẀẁẂẃẄẅẆẇẈẉẘＷｗ]", "w"),
    ("[ẊẋẌẍＸｘ]", "x"),
    ("[ÝýÿŶŷŸƱƳƴȜȝȲȳɎɏẎẏẙỲỳỴỵỶỷỸỹＹｙ]", "y"),
    ("[ŹźŻżŽžƵƶȤȥɀẐẑẒẓẔẕＺｚ]", "z"),
)

# Whatever is still not ASCII (combining accents, emoji, other scripts) is dropped.
NON_ASCII_RULES = _rules((r"[^\x00-\x7f]", ""))

PRE_LOWERCASE_RULES = (
    WHITESPACE_RULES + UNICODE_SYMBOL_RULES + UNICODE_LETTER_RULES + NON_ASCII_RULES
)

# --- Stage 2: abbreviations and symbols read as words (text is lowercase ASCII from here) --------
# An abbreviation must start the text or follow a character that can't be inside a word or a
# domain name, so "example.co.uk" keeps its "co."; expansions end in a space so that whatever
# was glued to the period ("vs.1st") still starts a word.
_START = "(^|[^a-z0-9.])"
_ABBREVIATIONS = (
    ("ms", "miz"),
    ("drs", "doctors"),
    ("dr", "doctor"),
    ("prof", "professor"),
    ("rev", "reverend"),
    ("hon", "honorable"),
    ("jr", "junior"),
    ("sr", "senior"),
    ("esq", "esquire"),
    ("capt", "captain"),
    ("col", "colonel"),
    ("gen", "general"),
    ("lt", "lieutenant"),
    ("maj", "major"),
    ("sgt", "sergeant"),
    ("co", "company"),
    ("corp", "corporation"),
    ("inc", "incorporated"),
    ("ltd", "limited"),
    ("dept", "department"),
    ("ft", "fort"),
    ("mt", "mount"),
    ("approx", "approximately"),
    ("etc", "et cetera"),
)
ABBREVIATION_RULES = (
    _rules(
        # These three are also common without their period.
        (_START + r"mrs\b\.?", r"\1missus "),
        (_START + r"mr\b\.?", r"\1mister "),
        (_START + r"vs\b\.?", r"\1versus "),
        (_START + r"e\.g\.", r"\1for example "),
        (_START + r"i\.e\.", r"\1that is "),
        (_START + r"a\.k\.a\.", r"\1also known as "),
        # "St. Louis" is a saint; "Main St." at the end of a phrase is a street.
        (_START + r"st\. ?([a-z])", r"\1saint \2"),
        (_START + r"st\.", r"\1street "),
        (_START + r"no\. ?([0-9])", r"\1number \2"),
        (r"#([0-9])", r"number \1"),
    )
    + tuple(Rule(_START + abbr + r"\.", r"\1" + word + " ") for abbr, word in _ABBREVIATIONS)
    + _rules(
        ("&", " and "),
        ("@", " at "),
        (r"\+", " plus "),
        ("=", " equals "),
        ("_", " "),  # a word character to \b: "_5" would hide the number
    )
)

# --- Stage 3 prep: forms glued to letters, then digits split from letters, then "1,000" ----------
_AMOUNT = "[0-9]+(?:,[0-9]{3})*(?:\\.[0-9]+)?"
_SIGN = "[$" + POUND + EURO + YEN + "]"
NUMBER_PREP_RULES = _rules(
    # A number glued to the word before it stands apart first: "on3rd" -> "on 3rd".
    ("([a-z])([0-9])", r"\1 \2"),
    # Ordinals (stage 4) are marked now, while the suffix is still glued to the digits.
    (r"\b([0-9]+(?:,[0-9]{3})*)(st|nd|rd|th)\b", r"N\1 ORD"),
    # Decades: 1980s, 2010s, 1900s, '80s.
    (r"\b(1[1-9])00s\b", r"\1 hundreds"),
    (r"\b(1[1-9]|20)([1-9]0)s\b", r"\1 \2 PL"),
    (r"'?\b([2-9]0)s\b", r"\1 PL"),
    # Times of day: 10am, 10:30 p.m.
    (r"\b([0-9]{1,2}(?::[0-9]{2})?) ?([ap])\.m\.", r"\1 \2 m"),
    (r"\b([0-9]{1,2}(?::[0-9]{2})?) ?([ap])m\b", r"\1 \2 m"),
    # Money scaled by a letter: $5k, £3m, $2bn.
    ("(" + _SIGN + " ?" + _AMOUNT + ")k\\b", r"\1 thousand"),
    ("(" + _SIGN + " ?" + _AMOUNT + ")m\\b", r"\1 million"),
    ("(" + _SIGN + " ?" + _AMOUNT + ")bn?\\b", r"\1 billion"),
    # Any other letters glued to digits are read apart: "3d" -> "3 d"; so are currency signs
    # glued to a word or to a number before them ("-126$5" is two amounts).
    ("([0-9])([a-z])", r"\1 \2"),
    ("([a-z0-9])(" + _SIGN + ")", r"\1 \2"),
    ("(" + _SIGN + ")([a-z])", r"\1 \2"),
    # Thousands separators go; N keeps "1,984" a cardinal rather than a year.
    (
        r"\bN?([0-9]{1,3}),([0-9]{3}),([0-9]{3}),([0-9]{3}),([0-9]{3})\b",
        r"N\1\2\3\4\5",
    ),
    (r"\bN?([0-9]{1,3}),([0-9]{3}),([0-9]{3}),([0-9]{3})\b", r"N\1\2\3\4"),
    (r"\bN?([0-9]{1,3}),([0-9]{3}),([0-9]{3})\b", r"N\1\2\3"),
    (r"\bN?([0-9]{1,3}),([0-9]{3})\b", r"N\1\2"),
)

# --- Stage 3: currency ---------------------------------------------------------------------------
# (sign pattern, marker letter, major singular, major plural, minor singular, minor plural)
_CURRENCIES = (
    (r"\$", "D", "dollar", "dollars", "cent", "cents"),
    (POUND, "P", "pound", "pounds", "penny", "pence"),
    (EURO, "E", "euro", "euros", "cent", "cents"),
    (YEN, "Y", "yen", "yen", "", ""),
)
_SCALE_WORDS = "(thousand|million|billion|trillion)"


def _currency_rules() -> tuple[Rule, ...]:
    """Amounts to "N<major> MAJx, N<minor> MINx", then units made singular or plural."""
    amount = r"N?([0-9]+(?:\.[0-9]+)?)"
    cents = r"N?([0-9]+)\.([0-9]{2})"
    with_minor = [c for c in _CURRENCIES if c[5]]
    # Signs before amounts first, for every currency, so that "5 $10" keeps its "$10".
    out = [  # "$3 million" -> "three million dollars"
        Rule(sign + " ?" + amount + " " + _SCALE_WORDS + r"\b", r"N\1 \2 " + major_plural)
        for sign, _, _, major_plural, _, _ in _CURRENCIES
    ]
    out += [
        Rule(sign + " ?" + cents + r"\b", rf"N\1 MAJ{tag}, N\2 MIN{tag}")
        for sign, tag, *_ in with_minor
    ]
    out += [Rule(sign + " ?" + amount, rf"N\1 MAJ{tag}") for sign, tag, *_ in _CURRENCIES]
    # Then signs after amounts: 5 €, 2.50 €.
    out += [
        Rule(r"\b" + cents + " ?" + sign, rf"N\1 MAJ{tag}, N\2 MIN{tag}")
        for sign, tag, *_ in with_minor
    ]
    out += [Rule(r"\b" + amount + " ?" + sign, rf"N\1 MAJ{tag}") for sign, tag, *_ in _CURRENCIES]
    out += _rules(
        (", N00 MIN[A-Z]", ""),  # $2.00 -> two dollars
        ("N0+ MAJ[A-Z], N", "N"),  # $0.50 -> fifty cents
        ("N0([1-9]) MIN([A-Z])", r"N\1 MIN\2"),  # $2.05 -> two dollars, five cents
    )
    for _, tag, major_one, major_plural, minor_one, minor_plural in _CURRENCIES:
        out.append(Rule("N1 MAJ" + tag, "N1 " + major_one))
        out.append(Rule("MAJ" + tag, major_plural))
        if minor_plural:
            out.append(Rule("N1 MIN" + tag, "N1 " + minor_one))
            out.append(Rule("MIN" + tag, minor_plural))
    # A sign with no amount next to it is still read.
    out += [Rule(sign, f" {major_plural} ") for sign, _, _, major_plural, _, _ in _CURRENCIES]
    out.append(Rule("%", " percent "))
    return tuple(out)


CURRENCY_RULES = _currency_rules()

# --- Stage 5 prep: times, signs and decimals, before years can claim their digits ----------------
NUMBER_FORM_RULES = _rules(
    (r"\b0([0-9]):([0-5][0-9])\b", r"\1:\2"),  # 09:30 -> 9:30
    (r"\b([0-9]|1[0-2]):00\b", r"\1 o'clock"),
    (r"\b(1[3-9]|2[0-4]):00\b", r"\1 hundred"),
    (r"\b([0-9]{1,2}):0([1-9])\b", r"\1 oh \2"),
    (r"\b([0-9]{1,2}):([1-5][0-9])\b", r"\1 \2"),
    (r"(^|[ (])-N?([0-9])", r"\1minus N\2"),
    (r"\bN?([0-9]+)\.([0-9]+)\b", r"N\1 point Q\2"),
    (r"(^|[ (])\.([0-9])", r"\1point Q\2"),
)

# --- Stage 5: years ------------------------------------------------------------------------------
# Bare four-digit numbers 1100-1999 and 2010-2099 (2000-2009 read fine as cardinals).
YEAR_RULES = _rules(
    (r"\b(1[1-9])00\b", r"\1 hundred"),  # 1900 -> nineteen hundred
    (r"\b(1[1-9])0([1-9])\b", r"\1 oh \2"),  # 1905 -> nineteen oh five
    (r"\b(1[1-9]|20)([1-9][0-9])\b", r"\1 \2"),  # 1984 -> nineteen eighty four
)

# --- Stage 6: digit strings ready for cardinal reading -------------------------------------------
_DIGITS_9 = "Q([0-9])" + "([0-9])?" * 8
DIGIT_RULES = (
    _rules(
        ("N([0-9])", r"\1"),
        (r"\b1 cents\b", "1 cent"),  # 1¢
        (r"\b1 degrees\b", "1 degree"),  # 1°
        (r"\b(0[0-9]+)", r"Q\1"),  # leading zero: 007 -> zero zero seven
        (r"\b([0-9]{13,})", r"Q\1"),  # too long for a cardinal: digit by digit
    )
    # Nine digits per pass, eight passes: runs up to 72 digits are spelled out.
    + (Rule(_DIGITS_9, r"\1 \2 \3 \4 \5 \6 \7 \8 \9 Q", repeat=8),)
    + _rules(("Q", " "))
)

# --- Stage 6: cardinals up to 999,999,999,999 ----------------------------------------------------
CARDINAL_RULES = (
    _rules(
        # Split into groups of three, marked with their scale.
        (r"\b([1-9][0-9]{0,2})([0-9]{3})([0-9]{3})([0-9]{3})\b", r"\1 B \2 M \3 K \4"),
        (r"\b([1-9][0-9]{0,2})([0-9]{3})([0-9]{3})\b", r"\1 M \2 K \3"),
        (r"\b([1-9][0-9]{0,2})([0-9]{3})\b", r"\1 K \2"),
        (r"\b000 [BMK]\b", ""),  # groups of zeros are not read
        (r"\b000\b", ""),
        (r"\b00?([1-9][0-9]?)\b", r"\1"),  # 045 -> 45, 006 -> 6
        (r"\b([1-9])00\b", r"\1 hundred"),
        (r"\b([1-9])0([1-9])\b", r"\1 hundred \2"),
        (r"\b([1-9])([1-9][0-9])\b", r"\1 hundred \2"),
    )
    + tuple(Rule(rf"\b1{d}\b", TEENS[d]) for d in range(10))
    + _rules(
        (r"\b([2-9])0\b", r"\1T"),
        (r"\b([2-9])([1-9])\b", r"\1T \2"),
    )
    + tuple(Rule(rf"\b{d}T", TENS[d]) for d in range(2, 10))
    + tuple(Rule(rf"\b{d}\b", ONES[d]) for d in range(10))
    + _rules(
        (r"\bK\b", "thousand"),
        (r"\bM\b", "million"),
        (r"\bB\b", "billion"),
    )
)

# --- Stage 4 finish: ordinal and plural endings on the words -------------------------------------
SUFFIX_RULES = _rules(
    # " +": a dropped group of zeros leaves two spaces ("1,000th" -> "one thousand  ORD").
    (r"\bone +ORD", "first"),
    (r"\btwo +ORD", "second"),
    (r"\bthree +ORD", "third"),
    (r"\bfive +ORD", "fifth"),
    (r"\beight +ORD", "eighth"),
    (r"\bnine +ORD", "ninth"),
    (r"\btwelve +ORD", "twelfth"),
    ("ty +ORD", "tieth"),
    ("([a-z]) +ORD", r"\1th"),
    ("ty +PL", "ties"),
    ("([a-z]) +PL", r"\1s"),
)

# --- Stage 7: cleanup ----------------------------------------------------------------------------
# Anything outside the symbol table becomes a space (so "a/b" and "x*y" stay two words), leftover
# markers included; then spaces are tidied around punctuation and collapsed.
CLEANUP_RULES = _rules(
    ("[A-Z]+", " "),
    ("[^ a-z!'(),\\-.:;?\"]+", " "),
    (" +([!),.:;?])", r"\1"),
    (r"\( +", "("),
    ("  +", " "),
    ("^ ", ""),
    (" $", ""),
)

POST_LOWERCASE_RULES = (
    ABBREVIATION_RULES
    + NUMBER_PREP_RULES
    + CURRENCY_RULES
    + NUMBER_FORM_RULES
    + YEAR_RULES
    + DIGIT_RULES
    + CARDINAL_RULES
    + SUFFIX_RULES
    + CLEANUP_RULES
)

ALL_RULES = PRE_LOWERCASE_RULES + POST_LOWERCASE_RULES
