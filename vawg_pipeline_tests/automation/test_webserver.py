"""The real ``dagster-webserver`` over workspace.yaml: definitions, a refresh, results.

The refresh is launched through the GraphQL API exactly as the UI's "Materialize all"
or the schedule would: the ``refresh`` job with partition-range tags, one run.
"""

import json

from vawg_pipeline.defs.automation import all_forces_tags
from vawg_pipeline.forces import force_codes
from vawg_pipeline_tests.automation.conftest import Webserver

LOCATION = "vawg_pipeline.definitions"

ASSET_NODES = """{ assetNodes {
    assetKey { path } groupName description kinds jobNames isPartitioned
    owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name } } } }
} }"""

REPOSITORY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
    name location { name }
    schedules { name cronSchedule executionTimezone scheduleState { status } }
    sensors { name sensorState { status } }
} } } }"""

LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
} }"""

ASSET = """query($path: [String!]!) { assetOrError(assetKey: {path: $path}) { ... on Asset {
    assetMaterializations(limit: 100) {
        runId partition
        metadataEntries { label
            ... on IntMetadataEntry { intValue }
            ... on TextMetadataEntry { text }
            ... on MarkdownMetadataEntry { mdStr } }
    }
    definition { partitionStats { numMaterialized numPartitions } }
} } }"""


def test_the_ui_shows_groups_descriptions_owners_kinds_and_automation(
    webserver: Webserver,
) -> None:
    nodes = {"/".join(n["assetKey"]["path"]): n
             for n in webserver.graphql(ASSET_NODES)["assetNodes"]}
    assert {"force_returns", "national_store", "analyst_snapshot", "force_feedback"} <= set(nodes)
    assert {n["groupName"] for n in nodes.values()} <= {"ingestion", "national", "published"}
    assert nodes["force_returns"]["groupName"] == "ingestion"
    assert nodes["force_feedback"]["groupName"] == "national"
    for key, node in nodes.items():
        assert node["description"], key
        assert node["owners"], key
        assert node["kinds"], key
        assert "refresh" in node["jobNames"], key
    schemas = {key: [c["name"] for e in node["metadataEntries"]
                     if e["label"] == "dagster/column_schema" for c in e["schema"]["columns"]]
               for key, node in nodes.items()}
    assert "subject_pseudonym" in schemas["national_store"]
    assert "How to fix" in schemas["force_feedback"]

    repo = webserver.graphql(REPOSITORY)["repositoriesOrError"]["nodes"][0]
    assert repo["location"]["name"] == LOCATION
    schedules = {s["name"]: s for s in repo["schedules"]}
    assert schedules["nightly_refresh"]["executionTimezone"] == "Europe/London"
    assert {s["scheduleState"]["status"] for s in schedules.values()} == {"RUNNING"}
    assert {"nightly_refresh", "daily_notice_schedule"} <= set(schedules)
    sensors = {s["name"]: s["sensorState"]["status"] for s in repo["sensors"]}
    assert sensors == {"new_return_sensor": "RUNNING", "run_failure_notice": "RUNNING"}


def test_a_refresh_launched_through_graphql_materializes_every_force(
    webserver: Webserver,
) -> None:
    tags = [{"key": k, "value": v} for k, v in
            {**all_forces_tags(), "vawg/trigger": "graphql-test"}.items()]
    launched = webserver.graphql(LAUNCH, {"params": {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                     "jobName": "refresh"},
        "runConfigData": {},
        "executionMetadata": {"tags": tags},
    }})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    assert webserver.wait_for_run(run_id, timeout=90) == "SUCCESS", webserver.log

    returns = webserver.graphql(ASSET, {"path": ["force_returns"]})["assetOrError"]
    in_run = [m for m in returns["assetMaterializations"] if m["runId"] == run_id]
    assert sorted(m["partition"] for m in in_run) == sorted(force_codes())  # one run, all
    stats = returns["definition"]["partitionStats"]
    assert stats["numMaterialized"] == stats["numPartitions"] == len(force_codes())
    # Each force's partition shows that force's own outcome and counts.
    entries = {m["partition"]: {e["label"]: e for e in m["metadataEntries"]} for m in in_run}
    outcomes = {force: e["outcome"]["text"] for force, e in entries.items()}
    # Kent may already be in (the browser test materializes it): accepted or unchanged.
    assert outcomes["kent"] in ("accepted", "unchanged") and outcomes["essex"] == "accepted"
    assert outcomes["surrey"] == "refused"
    assert list(outcomes.values()).count("no_file") == len(force_codes()) - 3
    assert entries["essex"]["dagster/row_count"]["intValue"] == \
        entries["essex"]["rows_stored"]["intValue"]
    assert entries["kent"]["rows_stored"]["intValue"] != \
        entries["essex"]["rows_stored"]["intValue"]

    store = webserver.graphql(ASSET, {"path": ["national_store"]})["assetOrError"]
    latest = {e["label"]: e for e in store["assetMaterializations"][0]["metadataEntries"]}
    assert store["assetMaterializations"][0]["runId"] == run_id
    assert latest["forces with a return"]["intValue"] == 2
    assert latest["individuals (subject-per-case rows)"]["intValue"] == 13
    assert latest["rows quarantined"]["intValue"] == 1

    feedback = webserver.graphql(ASSET, {"path": ["force_feedback"]})["assetOrError"]
    written = {e["label"]: e for e in feedback["assetMaterializations"][0]["metadataEntries"]}
    assert written["workbooks written"]["intValue"] == 3
    assert sorted(p.name for p in (webserver.root / "feedback").iterdir()) == [
        "essex.xlsx", "kent.xlsx", "surrey.xlsx"]
    # Nothing personal in anything the UI shows.
    shown = json.dumps([returns, store, feedback])
    assert "Planted" not in shown and "Secret Street" not in shown and "MP1000" not in shown
