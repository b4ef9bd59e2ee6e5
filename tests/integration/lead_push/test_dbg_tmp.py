import pytest
from lead_push_itest_helpers import LeadPushEnv
from test_lead_push_local import lead
pytestmark = pytest.mark.integration
def test_dbg(env):
    loc = env.install_location()
    body = env.push({"leads": [lead(f"B{i}", loc, n=i, tags=["batch"]) for i in range(90)]})
    bad = [r for r in body["results"] if r["outcome"] != "created"]
    print(bad)
    assert not bad
