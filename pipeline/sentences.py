"""Seeded English sentences for the demo corpus: public-domain prose plus templates that put
numbers, money, dates, times, abbreviations and punctuation in front of the text normaliser.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

# Share of templated sentences; the rest is prose, until the prose pool runs out.
TEMPLATED_FRACTION = 0.4

# Classic literature, fables, proverbs and public documents (all public domain), lightly
# trimmed to stay in the 5-35 word range, and a few plain everyday sentences.
PROSE_SENTENCES: tuple[str, ...] = (
    # Aesop
    "A crow, having stolen a bit of meat, perched in a tree and held it in her beak.",
    "The fox, seeing this, longed to possess the meat himself, and by a wily trick succeeded.",
    "Slow and steady wins the race.",
    "The hare laughed at the tortoise for his short feet and slowness of pace.",
    "Once upon a time, a lion lay asleep in the forest when a little mouse ran across his nose.",
    "No act of kindness, however small, is ever wasted.",
    "A shepherd boy, who watched a flock of sheep near a village, brought out the villagers "
    'three or four times by crying out, "Wolf! Wolf!"',
    "Nobody believes a liar, even when he speaks the truth.",
    "An ant spent the summer gathering grain, while the grasshopper sang and danced in the sun.",
    "It is best to prepare for the days of necessity.",
    "A thirsty crow found a pitcher with a little water at the bottom, far out of reach of her "
    "beak.",
    "Little by little does the trick.",
    "The north wind and the sun disputed which was the stronger of the two.",
    "Persuasion is better than force.",
    "A dog, crossing a bridge over a stream with a piece of meat in his mouth, saw his own "
    "shadow in the water.",
    "Beware lest you lose the substance by grasping at the shadow.",
    "A man had a goose that laid a golden egg every morning, and he grew rich but impatient.",
    "Much wants more and loses all.",
    "The mice held a council to decide how they might protect themselves from the cat.",
    "It is one thing to say that something should be done, but quite another thing to do it.",
    "A town mouse once visited a relative who lived in the country.",
    "Better beans and bacon in peace than cakes and ale in fear.",
    "A wolf, clothed in the skin of a sheep, mingled with the flock and deceived the shepherd.",
    "Do not trust appearances, for they are often deceptive.",
    "The fox could not reach the grapes, and so he declared that they were sour.",
    "It is easy to despise what you cannot get.",
    "A frog, swelling himself up to rival the ox, burst at last.",
    "United we stand, divided we fall.",
    "An old man on the point of death summoned his sons around him to give them some parting "
    "advice.",
    "The gods help them that help themselves.",
    "A lion, worn out with years and powerless from disease, lay on the ground at the point of "
    "death.",
    # Dickens
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
    "age of foolishness.",
    "Marley was dead, to begin with; there is no doubt whatever about that.",
    "Oh! But he was a tight-fisted hand at the grindstone, Scrooge!",
    "Fog everywhere; fog up the river, where it flows among green islands and meadows.",
    '"Please, sir," said Oliver, "I want some more."',
    "Whether I shall turn out to be the hero of my own life, or whether that station will be "
    "held by anybody else, these pages must show.",
    "It is a far, far better thing that I do, than I have ever done.",
    "There is nothing in the world so irresistibly contagious as laughter and good humour.",
    "A loving heart is the truest wisdom.",
    # Austen
    "It is a truth universally acknowledged, that a single man in possession of a good "
    "fortune, must be in want of a wife.",
    "Emma Woodhouse, handsome, clever, and rich, with a comfortable home and happy disposition, "
    "seemed to unite some of the best blessings of existence.",
    "I declare after all there is no enjoyment like reading!",
    "There is no charm equal to tenderness of heart.",
    "Vanity and pride are different things, though the words are often used synonymously.",
    "Let other pens dwell on guilt and misery.",
    "The person, be it gentleman or lady, who has not pleasure in a good novel, must be "
    "intolerably stupid.",
    # Melville, Twain, Carroll
    "Whenever I find myself growing grim about the mouth, I account it high time to get to sea "
    "as soon as I can.",
    "There is a wisdom that is woe; but there is a woe that is madness.",
    "Tom appeared on the sidewalk with a bucket of whitewash and a long-handled brush.",
    "You don't know about me without you have read a book by the name of The Adventures of Tom "
    "Sawyer; but that ain't no matter.",
    "Alice was beginning to get very tired of sitting by her sister on the bank, and of having "
    "nothing to do.",
    '"Curiouser and curiouser!" cried Alice, for she was so much surprised that she quite '
    "forgot how to speak good English.",
    "Why, sometimes I've believed as many as six impossible things before breakfast.",
    '"The time has come," the Walrus said, "to talk of many things."',
    "Begin at the beginning, and go on till you come to the end: then stop.",
    "Who in the world am I? Ah, that's the great puzzle!",
    # Doyle, Stevenson, Wells, Shelley, Bronte
    "To Sherlock Holmes she is always the woman.",
    "It is a capital mistake to theorize before one has data.",
    "You see, but you do not observe.",
    "When you have eliminated the impossible, whatever remains, however improbable, must be the "
    "truth.",
    "The game is afoot, and there is not a moment to lose.",
    "Squire Trelawney, Dr. Livesey, and the rest of these gentlemen have asked me to write down "
    "the whole particulars about Treasure Island.",
    "I remember him as if it were yesterday, as he came plodding to the inn door, his sea chest "
    "following behind him in a hand-barrow.",
    "No one would have believed in the last years of the nineteenth century that this world was "
    "being watched keenly and closely.",
    "The Time Traveller was expounding a recondite matter to us.",
    "Beware; for I am fearless, and therefore powerful.",
    "Nothing is so painful to the human mind as a great and sudden change.",
    "There was no possibility of taking a walk that day.",
    "I am no bird; and no net ensnares me.",
    # Thoreau, Emerson, Franklin
    "I went to the woods because I wished to live deliberately, to front only the essential "
    "facts of life.",
    "Our life is frittered away by detail; simplify, simplify!",
    "The mass of men lead lives of quiet desperation.",
    "To be great is to be misunderstood.",
    "Nothing can bring you peace but yourself.",
    "Early to bed and early to rise makes a man healthy, wealthy, and wise.",
    "An investment in knowledge always pays the best interest.",
    "Lost time is never found again.",
    "Well done is better than well said.",
    # Public documents and speeches
    "Four score and seven years ago our fathers brought forth on this continent a new nation, "
    "conceived in Liberty, and dedicated to the proposition that all men are created equal.",
    "Now we are engaged in a great civil war, testing whether that nation, or any nation so "
    "conceived and so dedicated, can long endure.",
    "The world will little note, nor long remember what we say here, but it can never forget "
    "what they did here.",
    "A house divided against itself cannot stand.",
    "We hold these truths to be self-evident, that all men are created equal.",
    "When in the course of human events, it becomes necessary for one people to dissolve the "
    "political bands which have connected them with another, a decent respect is owed.",
    "Prudence, indeed, will dictate that governments long established should not be changed "
    "for light and transient causes.",
    "We the People of the United States, in Order to form a more perfect Union, establish "
    "Justice, insure domestic Tranquility, and provide for the common defence.",
    "So, first of all, let me assert my firm belief that the only thing we have to fear is fear "
    "itself.",
    "With malice toward none, with charity for all, with firmness in the right, as God gives us "
    "to see the right, let us strive on to finish the work we are in.",
    "I know not what course others may take; but as for me, give me liberty or give me death!",
    # Shakespeare, Poe, Irving
    "All the world's a stage, and all the men and women merely players.",
    "The fault, dear Brutus, is not in our stars, but in ourselves.",
    "Some are born great, some achieve greatness, and some have greatness thrust upon them.",
    "Brevity is the soul of wit.",
    "What's in a name? That which we call a rose by any other word would smell as sweet.",
    "Friends, Romans, countrymen, lend me your ears; I come to bury Caesar, not to praise him.",
    "True! Nervous, very, very dreadfully nervous I had been and am; but why will you say that "
    "I am mad?",
    "During the whole of a dull, dark, and soundless day in the autumn of the year, I had been "
    "passing alone, on horseback, through a singularly dreary tract of country.",
    "In the bosom of one of those spacious coves which indent the eastern shore of the Hudson, "
    "there lies a small market town.",
    # Fairy tales and children's classics
    "Once upon a time there was a dear little girl who was loved by everyone who looked at her.",
    "Mirror, mirror, on the wall, who in this land is fairest of all?",
    "Hansel and Gretel walked the whole night and the whole day, but they could not find their "
    "way out of the forest.",
    "The emperor was so fond of new clothes that he spent all his money on being well dressed.",
    '"But he has nothing on at all!" said a little child at last.',
    "In the beginning of years, when the world was so new and all, the Camel lived in the "
    "middle of a Howling Desert.",
    "All children, except one, grow up.",
    "Second star to the right, and straight on till morning.",
    "Dorothy lived in the midst of the great Kansas prairies, with Uncle Henry, who was a "
    "farmer, and Aunt Em, who was the farmer's wife.",
    "There is no place like home, however grand the palace.",
    # London, Conrad, Hawthorne, Tolstoy, Defoe, Swift
    "Buck did not read the newspapers, or he would have known that trouble was brewing.",
    "The Nellie, a cruising yawl, swung to her anchor without a flutter of the sails, and was "
    "at rest.",
    "A throng of bearded men, in sad-coloured garments and grey steeple-crowned hats, was "
    "assembled in front of a wooden edifice.",
    "Happy families are all alike; every unhappy family is unhappy in its own way.",
    "Everything was in confusion in the Oblonskys' house.",
    "I was born in the year sixteen thirty-two, in the city of York, of a good family.",
    "My father had a small estate in Nottinghamshire; I was the third of five sons.",
    # Proverbs
    "A stitch in time saves nine.",
    "Where there is a will, there is a way.",
    "Necessity is the mother of invention.",
    "All that glitters is not gold.",
    "Fortune favours the bold, but prudence keeps the purse.",
    # Plain everyday prose
    "The morning train was late again, and the platform filled with grumbling passengers.",
    "She opened the window and let the cool evening air into the little room.",
    "A heavy rain fell all afternoon, and the streets shone like polished glass.",
    "The old clock in the hallway had not kept proper time for many years.",
    "He folded the letter carefully and slipped it into the inside pocket of his coat.",
    "Nobody in the village could remember a winter quite so long or so cold.",
    "The children ran down to the harbour to watch the fishing boats come in.",
    "Would you mind closing the door behind you, please?",
    "The library was quiet except for the soft rustle of turning pages.",
    "After supper, the family gathered around the fire to hear the old stories once more.",
    "The road wound through the hills, past orchards, mills, and sleepy farmhouses.",
    "Have you ever seen the sea at dawn, when the water is perfectly still?",
    "The baker rose before sunrise to light the ovens and knead the dough.",
    "What a wonderful surprise it was to find the garden in full bloom!",
    "The ship's bell rang twice, and the sailors hurried to their posts.",
    "I cannot promise that the journey will be easy, but I can promise that it will be worthwhile.",
    "The lamplighter made his rounds at dusk, whistling a tune nobody recognised.",
    "Every bird in the wood seemed to be singing at once.",
    "They argued about the map for an hour before admitting that they were lost.",
    "The teacher wrote a single word on the blackboard and waited for someone to read it aloud.",
    "Snow covered the fields, the fences, and the roofs of the sleeping town.",
    "His voice was calm, but his hands trembled as he lit the candle.",
    "The market square was crowded with merchants, musicians, and curious travellers.",
    "Why should we hurry, when the evening is so pleasant and the company so good?",
    "The lighthouse keeper kept a careful record of every ship that passed.",
    "Thunder rolled across the valley, and the horses stamped nervously in their stalls.",
)

# Templates: `{slot}` fields are filled from _SLOTS; a slot used twice gets the same value.
TEMPLATES: tuple[str, ...] = (
    "The shipment contained {big} crates of {goods}, and {small} of them were damaged.",
    "{title} {surname} paid {usd} for {purchase} at the market on {surname2} St.",
    "The bridge is {decimal} miles long and was finished in {year}.",
    "Train number {count} leaves at {time} and arrives in {city} by {time2}.",
    "Roughly {percent} of the voters stayed home; the rest crowded into the town hall.",
    "She finished {ordinal} out of {count} runners, which surprised everyone!",
    "Is it true that the church on {surname} St. cost {gbp} to repair?",
    'Dr. {surname} said, "Take two of these every {small} hours, and call me on {weekday}."',
    "The census of {year} counted {big} people in {city} (not including the sailors in port).",
    "On the {ordinal} of {month}, {year}, Mr. and Mrs. {surname} sailed for {city}.",
    "The recipe calls for {decimal} cups of flour, {small} eggs, and a pinch of salt.",
    "The loan of {usd_big} carried interest at {percent} a year.",
    "In {year}, the company sold {big} units, up {percent} from the year before.",
    "Room {count} is on the {ordinal} floor, next to Prof. {surname}'s office.",
    "The meeting ran from {time} until {time2}; nobody left early.",
    "Why did the {item} cost {gbp} yesterday and {gbp2} today?",
    "Gen. {surname} arrived with {big} men on {month} {day}, {year}.",
    "The mountain (Mt. {surname}, as the locals call it) rises {big} feet above the sea.",
    "Capt. {surname} logged {decimal} knots at {time} on the {ordinal} day of the voyage.",
    '"{small} is my lucky number," said Mrs. {surname}, "and I won\'t hear otherwise!"',
    "The {ordinal} edition, printed in {year}, now sells for {usd}.",
    "St. {saint}'s Church holds {count} people, or about {percent} of the village.",
    "Lot No. {count} went for {usd_big}, more than twice the estimate.",
    "Children under {small} pay half price; everyone else pays {usd}.",
    "{title} {surname} Jr. was born on {month} {day}, {year}, at {time_ampm} in {city}.",
    "He walked {decimal} km before breakfast, a fair distance for a man of {age}.",
    "The vote was {count} to {count2}, with {small} abstentions.",
    "Between {year_span}, the population of {city} grew by {percent}.",
    "Please send {small} copies to {count} {surname} Ave., Apt. {count2}, {city}.",
    "What happened at {time} on {weekday}, the {ordinal} of {month}?",
    "The clock struck {small}, and the guests, all {count} of them, fell silent.",
    "Dr. {surname} and Mrs. {surname2} met at {count} Baker St. at half past {small}.",
    "A single ticket costs {usd}; a season pass costs {usd_big}.",
    "Flight {flight} (by way of {city}) was delayed by {small} hours!",
    "He owed {gbp_big} and {small} shillings, or so the ledger said.",
    "The parcel weighed {decimal} kg, and the postage came to {usd}.",
    "Only {percent} of the {big} seeds sprouted; the rest, alas, were lost to frost.",
    "The case of {surname} vs. {surname2} was decided in {year}, after {count} days in court.",
    "By {time_ampm}, the temperature had climbed to {count2} degrees, and the streets were empty.",
    'The sign on the door read "Open {weekday} to {weekday2}, {time} to {time2}."',
    "{firstname} saved {usd} a week for {count} weeks, and then bought a bicycle.",
    "Mr. {surname}, Mrs. {surname2}, etc. were all invited to the dinner on the {ordinal}.",
    "The {ordinal} volume runs to {count} pages, and it costs {gbp}, postage included.",
    "Can you believe the old mill, built in {year}, still grinds {big} pounds of grain a year?",
    "The river rose {decimal} feet overnight; by {weekday} morning it had reached the bridge.",
    "About {percent} of the class (that is, {small} pupils) passed the examination.",
    "{firstname} was born in {year}, the {ordinal} child of a family of {count2}.",
)

_TITLES = ("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Capt.", "Rev.")
_SURNAMES = (
    "Smith", "Jones", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thomas", "Johnson",
    "Roberts", "Walker", "Wright", "Robinson", "Thompson", "White", "Hughes", "Edwards", "Green",
    "Hall", "Wood", "Harris", "Lewis", "Martin", "Jackson", "Clarke", "Clark", "Turner", "Hill",
    "Scott", "Cooper", "Morris", "Ward", "Moore", "King", "Watson", "Baker", "Harrison",
    "Morgan", "Patel", "Young", "Allen", "Mitchell", "James", "Anderson", "Phillips", "Lee",
    "Bell", "Parker", "Davis", "Fletcher", "Hawkins", "Marsh", "Pemberton", "Whitaker",
)  # fmt: skip
_FIRST_NAMES = (
    "Alice", "Arthur", "Beatrice", "Charles", "Clara", "Edmund", "Eleanor", "Frederick",
    "Grace", "Henry", "Harriet", "Isaac", "Jane", "Lucy", "Margaret", "Oliver", "Rose",
    "Samuel", "Thomas", "Violet", "Walter", "William",
)  # fmt: skip
_SAINTS = ("Mary", "John", "Peter", "Paul", "Andrew", "George", "Michael", "Margaret", "James")
_CITIES = (
    "London", "Boston", "Dublin", "Edinburgh", "Philadelphia", "Bristol", "Baltimore",
    "Liverpool", "Chicago", "New York", "San Francisco", "Glasgow", "Manchester", "Savannah",
    "Charleston", "Plymouth", "Halifax", "Cardiff", "York", "Richmond",
)  # fmt: skip
_GOODS = ("tea", "apples", "cotton", "wool", "coffee", "oranges", "nails", "books", "salt")
_ITEMS = (
    "a loaf of bread", "a pound of butter", "a pair of boots", "a new hat", "a dozen eggs",
    "a bag of flour", "a basket of plums", "an umbrella", "a pocket watch", "a bottle of ink",
)  # fmt: skip
_ITEMS_SINGULAR = ("bread", "butter", "cheese", "coffee", "sugar", "tea", "fish", "milk")
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _big(rng: random.Random) -> str:
    return f"{rng.choice((rng.randint(1_000, 9_999), rng.randint(10_000, 9_999_999))):,}"


def _decimal(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.randint(0, 20)}.{rng.randint(1, 9)}"
    return f"{rng.randint(1, 99)}.{rng.randint(1, 99):02d}"


def _money(rng: random.Random, symbol: str, large: bool) -> str:
    whole = rng.randint(1_000, 250_000) if large else rng.randint(1, 99)
    if rng.random() < 0.6:
        return f"{symbol}{whole:,}.{rng.randint(1, 99):02d}"
    return f"{symbol}{whole:,}"


def _percent(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return f"{rng.randint(1, 49)}.{rng.randint(1, 9)}%"
    return f"{rng.randint(2, 98)}%"


def _time(rng: random.Random) -> str:
    return f"{rng.randint(1, 12)}:{rng.choice((0, 5, 10, 15, 20, 30, 40, 45, 50, 55)):02d}"


def _time_ampm(rng: random.Random) -> str:
    return f"{_time(rng)} {rng.choice(('a.m.', 'p.m.'))}"


def _year_span(rng: random.Random) -> str:
    first = rng.randint(1620, 1990)
    return f"{first} and {first + rng.randint(5, 30)}"


def _flight(rng: random.Random) -> str:
    return f"{rng.choice(('BA', 'AA', 'PA', 'UA'))}{rng.randint(10, 999)}"


_SLOTS: dict[str, Callable[[random.Random], str]] = {
    "small": lambda rng: str(rng.randint(2, 12)),
    "count": lambda rng: str(rng.randint(13, 999)),
    "count2": lambda rng: str(rng.randint(3, 120)),
    "age": lambda rng: str(rng.randint(30, 90)),
    "big": _big,
    "decimal": _decimal,
    "usd": lambda rng: _money(rng, "$", large=False),
    "usd_big": lambda rng: _money(rng, "$", large=True),
    "gbp": lambda rng: _money(rng, "£", large=False),
    "gbp2": lambda rng: _money(rng, "£", large=False),
    "gbp_big": lambda rng: _money(rng, "£", large=True),
    "percent": _percent,
    "ordinal": lambda rng: _ordinal(rng.randint(1, 31)),
    "year": lambda rng: str(rng.randint(1620, 2020)),
    "year_span": _year_span,
    "day": lambda rng: str(rng.randint(1, 28)),
    "time": _time,
    "time2": _time,
    "time_ampm": _time_ampm,
    "flight": _flight,
    "title": lambda rng: rng.choice(_TITLES),
    "surname": lambda rng: rng.choice(_SURNAMES),
    "surname2": lambda rng: rng.choice(_SURNAMES),
    "firstname": lambda rng: rng.choice(_FIRST_NAMES),
    "saint": lambda rng: rng.choice(_SAINTS),
    "city": lambda rng: rng.choice(_CITIES),
    "goods": lambda rng: rng.choice(_GOODS),
    "item": lambda rng: rng.choice(_ITEMS_SINGULAR),
    "purchase": lambda rng: rng.choice(_ITEMS),
    "month": lambda rng: rng.choice(_MONTHS),
    "weekday": lambda rng: rng.choice(_WEEKDAYS),
    "weekday2": lambda rng: rng.choice(_WEEKDAYS),
}


def fill_template(template: str, rng: random.Random) -> str:
    """`template` with each `{slot}` replaced by a value drawn from `rng`."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    values: dict[str, str] = {}
    for name in names:  # in order of appearance, so the draws are reproducible
        if name not in values:
            values[name] = _SLOTS[name](rng)
    return template.format(**values)


def generate_sentences(n: int, seed: int = 0) -> list[str]:
    """`n` distinct sentences, about 40% templated, the rest prose, shuffled; same seed, same list.

    Prose is drawn without replacement, so beyond len(PROSE_SENTENCES) / 0.6 sentences the
    extra ones are all templated.
    """
    if n < 0:
        raise ValueError(f"the number of sentences must be >= 0, got {n}")
    rng = random.Random(seed)
    n_prose = min(n - round(n * TEMPLATED_FRACTION), len(PROSE_SENTENCES))
    sentences = rng.sample(PROSE_SENTENCES, n_prose)
    seen = set(sentences)
    max_attempts = 50 * n + 1000
    attempts = 0
    order: list[str] = []
    while len(sentences) < n:
        if not order:  # go through every template before repeating one
            order = rng.sample(TEMPLATES, len(TEMPLATES))
        attempts += 1
        if attempts > max_attempts:
            raise RuntimeError(f"could not draw {n} distinct sentences (seed {seed})")
        sentence = fill_template(order.pop(), rng)
        if sentence not in seen:
            seen.add(sentence)
            sentences.append(sentence)
    rng.shuffle(sentences)
    return sentences
