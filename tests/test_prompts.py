"""Interactive prompts, driven through prompt_toolkit's pipe input like a user's keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from airbox.config.gather import Inputs, gather
from airbox.config.interview import fill_missing
from airbox.config.prompts import Prompter
from tests import answers_factory as af
from tests.helpers import Keys

ENTER = "\r"
DOWN = "\x1b[B"


def test_asks_only_what_is_missing(keys: tuple[Keys, Prompter], tmp_path: Path) -> None:
    k, prompter = keys
    answers = af.answers(directory=tmp_path)
    del answers["name"]
    del answers["secretsManager"]["vault"]["authToken"]
    # name (default shown; typed over), then the vault token (hidden); nothing else.
    k.type("\x7f" * 20 + "my-dp" + ENTER, "typed-vault-token" + ENTER)
    filled = fill_missing(answers, prompter, interview=False)
    assert filled["name"] == "my-dp"
    assert filled["secretsManager"]["vault"]["authToken"] == "typed-vault-token"
    assert "storage" not in filled


def test_full_interview_with_lists_and_validation(
    keys: tuple[Keys, Prompter], tmp_path: Path
) -> None:
    k, prompter = keys
    sa = af.service_account_file(tmp_path)
    k.type(
        ENTER,  # name: accept default data-plane-1
        ENTER,  # control plane: Airbyte Cloud (first)
        DOWN + ENTER,  # credentials: existing data plane
        "dp-id-0001" + ENTER,
        "dp-secret" + ENTER,
        DOWN + ENTER,  # secrets manager: Google (second)
        "proj" + ENTER,  # project id
        # rejected as typed (no such file), then corrected
        str(tmp_path / "nope.json") + ENTER + "\x7f" * 200 + str(sa) + ENTER,
        DOWN + ENTER,  # storage: S3 (after "the chart's default")
        "bucket-1" + ENTER,  # bucket
        "not a region" + ENTER + "\x7f" * 40 + "eu-west-1" + ENTER,  # region, corrected
        DOWN + ENTER,  # authentication: instanceProfile (no keys asked)
    )
    filled = fill_missing({}, prompter)
    assert filled == {
        "name": "data-plane-1",
        "controlPlane": {"edition": "cloud"},
        "dataPlane": {"clientId": "dp-id-0001", "clientSecret": "dp-secret"},
        "secretsManager": {
            "type": "GOOGLE_SECRET_MANAGER",
            "googleSecretManager": {"projectId": "proj", "credentialsJson": str(sa)},
        },
        "storage": {
            "type": "s3",
            "bucket": "bucket-1",
            "s3": {"region": "eu-west-1", "authenticationType": "instanceProfile"},
        },
    }


def test_gather_prompts_then_validates(keys: tuple[Keys, Prompter], tmp_path: Path) -> None:
    k, prompter = keys
    answers = af.answers(directory=tmp_path)
    del answers["dataPlane"]
    path = af.write_answers(tmp_path / "a.yaml", answers)
    k.type(ENTER, "app-id" + ENTER, "app-secret" + ENTER)  # register mode, then its creds
    merged, settings = gather(Inputs(path, {}, interactive=True), prompter=prompter, environ={})
    assert settings.registration is not None
    assert settings.registration.client_id == "app-id"
    assert settings.data_plane is None
    assert merged["registration"]["clientSecret"] == "app-secret"


def test_environment_beats_file_and_flags_beat_environment(tmp_path: Path) -> None:
    answers = af.answers(directory=tmp_path)
    answers["registration"] = {"clientId": "from-file", "clientSecret": "file-secret"}
    path = af.write_answers(tmp_path / "a.yaml", answers)
    _, settings = gather(
        Inputs(path, {"name": "from-flag", "namespace": "ns-flag"}),
        environ={"AIRBYTE_CLIENT_ID": "from-env", "AIRBYTE_CLIENT_SECRET": "env-secret"},
    )
    assert settings.name == "from-flag"
    assert settings.namespace == "ns-flag"
    assert settings.registration is not None
    assert settings.registration.client_id == "from-env"
    assert settings.registration.client_secret == "env-secret"


class Recording(Prompter):
    """A prompter that keeps the lines printed above the questions (notes, the review)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.notes: list[str] = []

    def note(self, text: str, *, style: str = "") -> None:
        self.notes.append(text)


def test_a_leftover_data_plane_secret_is_said_and_left_out_when_registering(
    keys: tuple[Keys, Prompter],
) -> None:
    k, piped = keys
    prompter = Recording(input=piped._io["input"], output=piped._io["output"], before_each=k.feed)
    k.type(
        ENTER,
        ENTER,  # name, Airbyte Cloud
        ENTER,  # Register a new data plane
        "app-client-id" + ENTER,
        "app-client-secret" + ENTER,
        DOWN * 3 + ENTER,  # HashiCorp Vault
        "https://vault.example.com:8200" + ENTER,
        "hvs.token-0001" + ENTER,
        ENTER,  # storage: none
        ENTER,
    )  # review: install
    merged, settings = gather(
        Inputs(None, {}, interactive=True, review=True),
        prompter=prompter,
        environ={"DATAPLANE_CLIENT_SECRET": "leftover-secret-1"},
    )
    assert "dataPlane" not in merged and settings.registration is not None
    said = "\n".join(prompter.notes)
    assert (
        "a data plane client secret without its client id (from "
        "DATAPLANE_CLIENT_SECRET or the answers file) is not used" in said
    )
    assert "Data plane client secret" not in said  # no review row for it
    assert "asked again" not in said


def test_kept_answers_are_offered_to_the_same_data_plane_and_with_an_answers_file(
    keys: tuple[Keys, Prompter], tmp_path: Path
) -> None:
    from airbox.config.gather import keep_partial
    from airbox.errors import InterviewInterrupted

    k, prompter = keys
    kept = {
        "name": "dp-a",
        "secretsManager": {
            "type": "VAULT",
            "vault": {"address": "https://vault.kept.example.com:8200"},
        },
    }
    offered = "Offering the answers kept from an interrupted run"

    def interrupted(inputs: Inputs) -> list[str]:
        keep_partial(kept)
        said: list[str] = []
        k.type("\x03")  # Ctrl-C at the first question
        try:
            gather(inputs, prompter=prompter, environ={}, say=said.append)
        except InterviewInterrupted as stop:
            said.append(str(stop))
        return said

    # Another data plane (a reconfigure of A interrupted, then B): A's answers not offered.
    said = interrupted(Inputs(None, {"name": "dp-b"}, interactive=True))
    assert not any(offered in line for line in said)
    assert any(
        offered in line for line in interrupted(Inputs(None, {"name": "dp-a"}, interactive=True))
    )
    # An interrupted `--answers partial.yaml`: the same command continues from them.
    data = af.answers(directory=tmp_path, name="dp-a")
    del data["secretsManager"]
    partial = af.write_answers(tmp_path / "partial.yaml", data)
    said = interrupted(Inputs(partial, {}, interactive=True))
    assert any(offered in line for line in said)
    assert "run the same command again to continue from them" in said[-1]


def test_a_pasted_service_account_key_is_neither_kept_nor_shown(tmp_path: Path) -> None:
    from airbox.config.gather import keep_partial, kept_file
    from airbox.config.review import review_rows

    key = af.service_account_file(tmp_path).read_text()
    answers = {
        "name": "dp-key",
        "secretsManager": {
            "type": "GOOGLE_SECRET_MANAGER",
            "googleSecretManager": {"projectId": "my-project", "credentialsJson": key},
        },
    }
    keep_partial(answers)
    kept = kept_file().read_text()
    assert af.SECRETS["gsa_private_key"] not in kept and "my-project" in kept
    shown = [row.shown for row in review_rows(answers)]
    assert not any(af.SECRETS["gsa_private_key"] in value for value in shown)
    assert "the service account key given as JSON ********" in shown


def test_an_interrupted_reconfigure_keeps_nothing_for_another_data_plane(
    keys: tuple[Keys, Prompter], tmp_path: Path
) -> None:
    from airbox.config.gather import kept_file, save
    from airbox.errors import InterviewInterrupted
    from airbox.paths import StateDir

    k, prompter = keys
    save(StateDir.for_name("dp-a"), af.answers(directory=tmp_path, name="dp-a"))
    k.type("\x03")  # Ctrl-C at the first question
    with pytest.raises(InterviewInterrupted, match="the saved settings stay as they were"):
        gather(
            Inputs(None, {"name": "dp-a"}, interactive=True, reconfigure=True),
            prompter=prompter,
            environ={},
        )
    assert not kept_file().exists()
