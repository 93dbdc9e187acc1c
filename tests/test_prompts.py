"""Interactive prompts, driven through prompt_toolkit's pipe input like a user's keys."""

from __future__ import annotations

from pathlib import Path

from airbox.config.gather import Inputs, gather
from airbox.config.prompts import Prompter, fill_missing
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
        ENTER,                       # name: accept default data-plane-1
        ENTER,                       # control plane: Airbyte Cloud (first)
        DOWN + ENTER,                # credentials: existing data plane
        "dp-id-0001" + ENTER, "dp-secret" + ENTER,
        DOWN + ENTER,                # secrets manager: Google (second)
        "proj" + ENTER,              # project id
        # rejected as typed (no such file), then corrected
        str(tmp_path / "nope.json") + ENTER + "\x7f" * 200 + str(sa) + ENTER,
        DOWN + ENTER,                # storage: S3 (after "the chart's default")
        "bucket-1" + ENTER,          # bucket
        "not a region" + ENTER + "\x7f" * 40 + "eu-west-1" + ENTER,  # region, corrected
        DOWN + ENTER,                # authentication: instanceProfile (no keys asked)
    )
    filled = fill_missing({}, prompter)
    assert filled == {
        "name": "data-plane-1",
        "controlPlane": {"edition": "cloud"},
        "dataPlane": {"clientId": "dp-id-0001", "clientSecret": "dp-secret"},
        "secretsManager": {"type": "GOOGLE_SECRET_MANAGER", "googleSecretManager": {
            "projectId": "proj", "credentialsJson": str(sa)}},
        "storage": {"type": "s3", "bucket": "bucket-1", "s3": {
            "region": "eu-west-1", "authenticationType": "instanceProfile"}},
    }


def test_gather_prompts_then_validates(keys: tuple[Keys, Prompter], tmp_path: Path) -> None:
    k, prompter = keys
    answers = af.answers(directory=tmp_path)
    del answers["dataPlane"]
    path = af.write_answers(tmp_path / "a.yaml", answers)
    k.type(ENTER, "app-id" + ENTER, "app-secret" + ENTER)  # register mode, then its creds
    merged, settings = gather(Inputs(path, {}, interactive=True), prompter=prompter,
                              environ={})
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
