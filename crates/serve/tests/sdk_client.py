"""Microsoft's Python SDK (azure-mgmt-security) against `vigil serve`, unchanged.

Run by tests/sdk.rs, which starts the server, loads the data set, and checks afterwards that
the library sees what this client did. Environment: VIGIL_URL (base URL), VIGIL_TOKEN (bearer
token), VIGIL_SUB (the subscription = tenant), VIGIL_OTHER (a subscription the token may not
see), VIGIL_EXPECTED (how many alerts the subscription holds). Prints a JSON report on stdout;
any failed expectation raises, and the process exits non-zero.
"""

import json
import os
import sys

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.security import SecurityCenter
from azure.mgmt.security.v2019_01_01_preview.models import (
    AlertsSuppressionRule,
    ScopeElement,
    SuppressionAlertsScope,
)


class BearerToken(SansIOHTTPPolicy):
    """Sends a fixed bearer token: how any Defender client is pointed at Vigil (plain HTTP on
    loopback, where azure-core's own bearer policy insists on TLS)."""

    def __init__(self, token):
        super().__init__()
        self._token = token

    def on_request(self, request):
        request.http_request.headers["Authorization"] = "Bearer " + self._token


class NoCredential:
    """The SDK wants a credential object; authentication is the policy above."""

    def get_token(self, *scopes, **kwargs):
        raise RuntimeError("not used: the BearerToken policy authenticates")


def client(sub, token):
    return SecurityCenter(
        NoCredential(),
        sub,
        base_url=os.environ["VIGIL_URL"],
        authentication_policy=BearerToken(token),
    )


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    sub = os.environ["VIGIL_SUB"]
    other = os.environ["VIGIL_OTHER"]
    token = os.environ["VIGIL_TOKEN"]
    expected = int(os.environ["VIGIL_EXPECTED"])
    sc = client(sub, token)
    report = {}

    # List every alert of the subscription (the SDK follows nextLink).
    alerts = list(sc.alerts.list())
    expect(len(alerts) == expected, f"listed {len(alerts)} alerts, expected {expected}")
    expect(len({a.name for a in alerts}) == expected, "an alert was listed twice")
    report["listed"] = [a.name for a in alerts]
    by_rg = list(sc.alerts.list_by_resource_group("prod"))
    report["prod"] = sorted(a.name for a in by_rg)
    by_region = list(sc.alerts.list_subscription_level_by_region("eastus"))
    report["eastus"] = sorted(a.name for a in by_region)
    both = list(sc.alerts.list_resource_group_level_by_region("westeurope", "dev"))
    report["dev_westeurope"] = sorted(a.name for a in both)

    # Get one, at subscription and at resource-group level; the typed model is filled in.
    first = alerts[0]
    loc = first.id.split("/locations/")[1].split("/")[0]
    rg = first.id.split("/resourceGroups/")[1].split("/")[0]
    got = sc.alerts.get_subscription_level(loc, first.name)
    expect(got.alert_display_name == first.alert_display_name, "get returned another alert")
    expect(got.severity in ("High", "Medium", "Low", "Informational"), got.severity)
    expect(got.status == "Active", got.status)
    expect(got.time_generated_utc is not None, "no timeGeneratedUtc")
    expect(len(got.entities) >= 1, "no entities")
    expect(got.resource_identifiers[0].azure_resource_id.startswith(f"/subscriptions/{sub}/"), "resource id")
    got_rg = sc.alerts.get_resource_group_level(rg, loc, first.name)
    expect(got_rg.id == got.id, "the two gets disagree")

    # Change statuses through the lifecycle.
    a, b, c = alerts[1], alerts[2], alerts[3]
    loc_of = lambda x: x.id.split("/locations/")[1].split("/")[0]
    rg_of = lambda x: x.id.split("/resourceGroups/")[1].split("/")[0]
    sc.alerts.update_subscription_level_state_to_dismiss(loc_of(a), a.name)
    sc.alerts.update_subscription_level_state_to_in_progress(loc_of(b), b.name)
    sc.alerts.update_resource_group_level_state_to_resolve(rg_of(b), loc_of(b), b.name)
    sc.alerts.update_resource_group_level_state_to_dismiss(rg_of(c), loc_of(c), c.name)
    sc.alerts.update_resource_group_level_state_to_activate(rg_of(c), loc_of(c), c.name)
    expect(sc.alerts.get_subscription_level(loc_of(a), a.name).status == "Dismissed", "a")
    expect(sc.alerts.get_subscription_level(loc_of(b), b.name).status == "Resolved", "b")
    expect(sc.alerts.get_subscription_level(loc_of(c), c.name).status == "Active", "c")
    report["dismissed"] = a.name
    report["resolved"] = b.name
    report["reactivated"] = c.name

    # An illegal transition is an HttpResponseError carrying the ARM error.
    try:
        sc.alerts.update_subscription_level_state_to_resolve(loc_of(a), a.name)
        raise AssertionError("resolving a dismissed alert was accepted")
    except HttpResponseError as e:
        expect(e.status_code == 400, e.status_code)
        expect(e.error is not None and e.error.code == "BadRequest", str(e))
        report["illegal"] = e.error.message

    # A missing alert is ResourceNotFoundError (404).
    try:
        sc.alerts.get_subscription_level("westeurope", "no-such-alert")
        raise AssertionError("a missing alert was found")
    except ResourceNotFoundError as e:
        expect(e.error.code == "NotFound", str(e))

    # Suppression rules: create, read, list, replace, delete.
    rule = AlertsSuppressionRule(
        alert_type="VM_EICAR",
        reason="FalsePositive",
        state="Enabled",
        comment="test machines",
        suppression_alerts_scope=SuppressionAlertsScope(
            all_of=[ScopeElement(field="entities.host.hostname", additional_properties={"in": ["vm-000", "vm-005"]})]
        ),
    )
    created = sc.alerts_suppression_rules.update("sdk-eicar", rule)
    expect(created.name == "sdk-eicar" and created.state == "Enabled", str(created))
    expect(created.suppression_alerts_scope.all_of[0].field == "entities.host.hostname", "scope")
    fetched = sc.alerts_suppression_rules.get("sdk-eicar")
    expect(fetched.reason == "FalsePositive" and fetched.comment == "test machines", str(fetched))
    expect(fetched.last_modified_utc is not None, "no lastModifiedUtc")
    names = [r.name for r in sc.alerts_suppression_rules.list()]
    expect(names == ["sdk-eicar"], names)
    expect(list(sc.alerts_suppression_rules.list(alert_type="Other")) == [], "AlertType filter")
    rule.state = "Disabled"
    replaced = sc.alerts_suppression_rules.update("sdk-eicar", rule)
    expect(replaced.state == "Disabled", replaced.state)
    kept = sc.alerts_suppression_rules.update("sdk-kept", rule)
    sc.alerts_suppression_rules.delete("sdk-eicar")
    try:
        sc.alerts_suppression_rules.get("sdk-eicar")
        raise AssertionError("a deleted rule was found")
    except ResourceNotFoundError:
        pass
    report["rules"] = [r.name for r in sc.alerts_suppression_rules.list()]

    # The token may not see the other subscription: 404, as if it held nothing.
    try:
        list(client(other, token).alerts.list())
        raise AssertionError("another tenant's alerts were listed")
    except ResourceNotFoundError:
        report["other_tenant"] = 404
    # A wrong token is refused.
    try:
        list(client(sub, token + "x").alerts.list())
        raise AssertionError("a wrong token was accepted")
    except HttpResponseError as e:
        expect(e.status_code == 401, e.status_code)
        report["wrong_token"] = 401

    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
