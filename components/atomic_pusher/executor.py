"""AtomicPusher's work: copy the model beside the version directory, then rename it there.

The stock Pusher copies into <base>/<version>/ in place, saved_model.pb last. TF Serving
loads a version as soon as saved_model.pb is there and our local server waits for a stable
listing, but a push killed mid-copy still leaves a numbered directory behind that the next
server start may try to load. Here the copy goes to a hidden, non-numeric directory in the
same base (TF Serving ignores it), and one rename publishes the whole version, its voice card
(voice_card.json, VOICE_CARD.md) included: TF Serving and serving/ load a version directory's
SavedModel files and ignore other files in it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time

from absl import logging
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components import voice_card_artifacts
from models import filesystems, voice_card

PARTIAL_PREFIX = ".partial-"  # <base>/.partial-<version>-<pid>: a push in progress
_PARTIAL = re.compile(r"^\.partial-\d+-(\d+)$")
# No directory rename on object stores: tensorflow-io's S3 "rename" copies object by object in
# key order (saved_model.pb before variables/), so a reader could see a version without weights.
OBJECT_STORE_SCHEMES = frozenset({"s3", "gs", "az", "oss"})


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_partials(base_directory: str) -> list[str]:
    """Removes what killed pushes left in a local base directory; returns the paths."""
    if "://" in base_directory or not os.path.isdir(base_directory):
        return []
    removed = []
    for name in os.listdir(base_directory):
        match = _PARTIAL.match(name)
        if match and not _pid_alive(int(match.group(1))):
            path = os.path.join(base_directory, name)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def push_atomically(
    model_path: str, base_directory: str, version: str, extra_files: dict[str, str] | None = None
) -> str:
    """Publishes `model_path` as <base_directory>/<version>/ in one rename; returns that path.
    `extra_files` ({name: text}, the voice card) are written into the copy before the rename.

    An existing version directory is left as it is (the stock Pusher's rule). On a file
    system without directory rename (object stores), the copy falls back to the stock
    order: every file, then saved_model.pb last.
    """
    filesystems.ensure_filesystems(base_directory)
    serving_path = os.path.join(base_directory, version)
    if fileio.exists(serving_path):
        logging.info("Destination %s already exists, skipping this push.", serving_path)
        return serving_path
    fileio.makedirs(base_directory)
    for path in remove_dead_partials(base_directory):
        logging.warning("removed %s, left by a push that was killed", path)
    partial = os.path.join(base_directory, f"{PARTIAL_PREFIX}{version}-{os.getpid()}")
    if fileio.exists(partial):
        fileio.rmtree(partial)
    io_utils.copy_dir(model_path, partial)
    for name, text in (extra_files or {}).items():
        io_utils.write_string_file(os.path.join(partial, name), text)
    if filesystems.scheme(base_directory) in OBJECT_STORE_SCHEMES:
        _copy_saved_model_last(partial, serving_path)
        return serving_path
    try:
        fileio.rename(partial, serving_path)
    except Exception:  # noqa: BLE001 - a file system without directory rename
        if fileio.exists(serving_path):
            raise
        _copy_saved_model_last(partial, serving_path)
    return serving_path


def _copy_saved_model_last(partial: str, serving_path: str) -> None:
    """The stock Pusher's order where one rename cannot publish a directory: every file, then
    saved_model.pb (what TF Serving waits for); then the staging copy goes."""
    logging.info("no atomic rename for %s: copying saved_model.pb last", serving_path)
    io_utils.copy_dir(partial, serving_path, deny_regex_patterns=[r"saved_model\.pb"])
    saved_model = os.path.join(partial, "saved_model.pb")
    if fileio.exists(saved_model):
        io_utils.copy_file(saved_model, os.path.join(serving_path, "saved_model.pb"))
    fileio.rmtree(partial)


class Executor(pusher_executor.Executor):
    """The stock Pusher's Do (blessing check, versioning, output properties), with
    push_atomically for the copy into the serving directory."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination
        )
        kind = destination.WhichOneof("destination")
        if kind != "filesystem":
            raise NotImplementedError(f"AtomicPusher pushes to a filesystem, not {kind!r}")
        versioning = destination.filesystem.versioning
        if versioning not in (
            pusher_pb2.Versioning.AUTO,
            pusher_pb2.Versioning.UNIX_TIMESTAMP,
        ):
            raise NotImplementedError(f"Invalid Versioning {versioning}")
        version = str(int(time.time()))
        base = destination.filesystem.base_directory
        card = self._voice_card(input_dict, exec_properties, model_path, base, version)
        serving_path = push_atomically(
            model_path, base, version, extra_files=voice_card.card_files(card)
        )
        logging.info("Model written to serving path %s.", serving_path)
        io_utils.copy_dir(model_path, model_push.uri)  # the archive copy, as the stock Pusher
        voice_card.write_card(model_push.uri, card)
        self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=version)
        logging.info("Model pushed to %s.", model_push.uri)

    @staticmethod
    def _voice_card(input_dict, exec_properties, model_path: str, base: str, version: str):
        """The card of this push: served name (the base's last part) and version, the voice's
        own description, the Evaluator's verdict and corpus (on the blessing), the operator's
        fields (custom_config["voice_card"], e.g. the licence)."""
        blessings = input_dict.get(standard_component_specs.MODEL_BLESSING_KEY) or []
        blessing = blessings[0] if blessings else None
        custom_config = json.loads(
            exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "null"
        )
        models = input_dict.get(standard_component_specs.MODEL_KEY) or []
        return voice_card_artifacts.card_for_model(
            model_path,
            blessing,
            name=os.path.basename(base.rstrip("/")),  # <push base>/<served name>/<version>
            version=version,
            options=(custom_config or {}).get(voice_card_artifacts.OPTIONS_KEY),
            source_model=models[0].uri if models else model_path,
        )
