"""The generated values, rendered by the real airbyte-data-plane chart, fit the Secret.

Needs a real ``helm`` and the chart archive, which this sandbox's CI cannot download:
set AIRBOX_TEST_HELM (a helm binary) and AIRBOX_TEST_CHART (airbyte-data-plane-1.8.1.tgz
or its unpacked directory) to run it; it is skipped otherwise. The same property is
checked without them, below, against the fake helm's model of the chart (which the
install tests use too).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from airbox.config.settings import Settings
from airbox.render import manifests
from airbox.render.chartcheck import parse_manifests, secret_refs, unresolved_refs
from tests import answers_factory as af

HELM = os.environ.get("AIRBOX_TEST_HELM")
CHART = os.environ.get("AIRBOX_TEST_CHART")

real_chart = pytest.mark.skipif(
    not (HELM and CHART and Path(HELM).is_file() and Path(CHART).exists()),
    reason="set AIRBOX_TEST_HELM and AIRBOX_TEST_CHART to render the real chart",
)


def render(values: dict[str, object], tmp_path: Path, release: str = "dp1") -> str:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    assert HELM and CHART
    result = subprocess.run(
        [HELM, "template", release, CHART, "--namespace", "airbyte", "--values", str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@real_chart
@pytest.mark.parametrize("edition", ["cloud", "enterprise"])
@pytest.mark.parametrize("sm", af.SECRETS_MANAGERS)
@pytest.mark.parametrize("st", af.STORAGES)
def test_every_secret_reference_resolves(tmp_path: Path, edition: str, sm: str, st: str) -> None:
    settings = Settings.from_answers(af.answers(sm, st, directory=tmp_path, edition=edition))
    data = manifests.secret_data(settings)
    secret = manifests.secret_manifest(settings, data)
    rendered = render(manifests.helm_values(settings), tmp_path)
    docs = parse_manifests(rendered)
    assert unresolved_refs(docs, secret) == []
    # Every credential the launcher reads comes from our Secret, not the chart's own one
    # (whose values would be empty); only the chart-default storage keeps the chart's.
    for ref in secret_refs(docs):
        if ref.secret != manifests.SECRET_NAME:
            assert st == "default" and ref.env in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    # The launcher starts job pods in the namespace its Role covers.
    configmap = next(d for d in docs if d["kind"] == "ConfigMap")
    assert configmap["data"]["WORKLOADS_NAMESPACE"] == "airbyte"
    # No secret value in anything Helm stores (values, its own Secret, the ConfigMap).
    assert af.find_secrets(rendered) == []


@real_chart
def test_a_missing_key_is_caught(tmp_path: Path) -> None:
    settings = Settings.from_answers(af.answers("aws-instance-profile", "s3-instance-profile",
                                                directory=tmp_path))
    data = manifests.secret_data(settings)
    # Dropping the empty instance-profile keys is the mistake the chart punishes.
    del data["AWS_SECRET_MANAGER_ACCESS_KEY_ID"]
    secret = manifests.secret_manifest(settings, data)
    missing = unresolved_refs(parse_manifests(render(manifests.helm_values(settings), tmp_path)),
                              secret)
    assert [ref.key for ref in missing] == ["AWS_SECRET_MANAGER_ACCESS_KEY_ID"]


# Everywhere (CI included): the same property against tests/fakes/chart_model.py, a model
# of the 1.8.1 chart's credential wiring written from its templates; the real-chart tests
# above keep the model honest where the chart is at hand.
@pytest.mark.parametrize("edition", ["cloud", "enterprise"])
@pytest.mark.parametrize("sm", af.SECRETS_MANAGERS)
@pytest.mark.parametrize("st", af.STORAGES)
def test_every_secret_reference_resolves_in_the_chart_model(
    tmp_path: Path, edition: str, sm: str, st: str
) -> None:
    from tests.fakes import chart_model

    settings = Settings.from_answers(af.answers(sm, st, directory=tmp_path, edition=edition))
    secret = manifests.secret_manifest(settings, manifests.secret_data(settings))
    values = manifests.helm_values(settings)
    docs = chart_model.render(settings.release, settings.namespace, values, "1.8.1")
    assert unresolved_refs(docs, secret) == []
    for ref in secret_refs(docs):
        if ref.secret != manifests.SECRET_NAME:
            assert st == "default" and ref.env in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    assert af.find_secrets(yaml.safe_dump(values)) == []


def test_the_chart_model_catches_a_missing_key(tmp_path: Path) -> None:
    from tests.fakes import chart_model

    settings = Settings.from_answers(af.answers("aws-instance-profile", "s3-instance-profile",
                                                directory=tmp_path))
    data = manifests.secret_data(settings)
    del data["AWS_SECRET_MANAGER_ACCESS_KEY_ID"]
    docs = chart_model.render(settings.release, settings.namespace,
                              manifests.helm_values(settings), "1.8.1")
    missing = unresolved_refs(docs, manifests.secret_manifest(settings, data))
    assert [ref.key for ref in missing] == ["AWS_SECRET_MANAGER_ACCESS_KEY_ID"]


@real_chart
@pytest.mark.parametrize("edition", ["cloud", "enterprise"])
@pytest.mark.parametrize("sm", af.SECRETS_MANAGERS)
@pytest.mark.parametrize("st", af.STORAGES)
def test_the_model_matches_the_real_chart(tmp_path: Path, edition: str, sm: str,
                                         st: str) -> None:
    from tests.fakes import chart_model

    settings = Settings.from_answers(af.answers(sm, st, directory=tmp_path, edition=edition))
    values = manifests.helm_values(settings)

    def wiring(docs: list[dict[str, object]]) -> set[tuple[str, str, str]]:
        return {(ref.env, ref.secret, ref.key) for ref in secret_refs(docs)}

    real = parse_manifests(render(values, tmp_path))
    model = chart_model.render(settings.release, settings.namespace, values, "1.8.1")
    assert wiring(model) == wiring(real)
