//! Defender's workflow automation (`Microsoft.Security/automations`) read and translated into
//! [`Automation`]s, with a list of what did not translate.

use serde_json::Value;

use super::model::{Action, Automation, Trigger, Webhook};
use crate::suppression::Condition;
use crate::{Error, JsonMap};

/// The ARM resource type of a workflow automation.
pub const AUTOMATION_RESOURCE_TYPE: &str = "Microsoft.Security/automations";

/// An automation read from a file, and what of it did not translate (empty for Vigil's own
/// form).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Translation {
    /// The automation.
    pub automation: Automation,
    /// Each part of a Defender resource that has no Vigil equivalent, and what was done
    /// instead.
    pub untranslated: Vec<String>,
}

/// Reads automations: Vigil's own JSON form ([`Automation`]'s `Serialize`), a Defender
/// `Microsoft.Security/automations` resource (recognised by its `properties`), a
/// `{"value": […]}` list or an array of either. Each automation is checked
/// ([`Automation::check`]).
///
/// A Defender resource translates as follows: the `Alerts` source's rule sets become one
/// condition (`anyOf` the rule sets, each `allOf` its rules); each rule's `propertyJPath`
/// (the PascalCase alert schema the Logic App trigger receives) becomes a field path and its
/// operator a condition (`Equals` → `equals`, `NotEquals` → `not equals`, `Contains`,
/// `StartsWith`, `EndsWith`); resource-group scopes become a prefix condition on
/// `resourceIdentifiers.azureResourceId`; each `LogicApp` action becomes a webhook to its
/// trigger `uri`; the triggers are "alert created" and "alert updated". A rule set with a rule
/// that does not translate (a numeric comparison, a path into `Entities`, …) is left out
/// whole, so the automation never fires more often than in Defender; EventHub and Workspace
/// actions (continuous export) and other event sources are left out. Each omission is listed.
///
/// ```
/// use vigil_core::automation::parse_automations;
///
/// let t = parse_automations(r#"{
///   "name": "notify-high",
///   "type": "Microsoft.Security/automations",
///   "properties": {
///     "isEnabled": true,
///     "scopes": [{"scopePath": "/subscriptions/0000"}],
///     "sources": [{"eventSource": "Alerts", "ruleSets": [
///       {"rules": [{"propertyJPath": "Severity", "propertyType": "String", "expectedValue": "high", "operator": "Equals"}]}
///     ]}],
///     "actions": [
///       {"actionType": "LogicApp", "logicAppResourceId": "/subscriptions/0000/.../workflows/notify", "uri": "https://prod.logic.example/trigger?sig=x"},
///       {"actionType": "Workspace", "workspaceResourceId": "/subscriptions/0000/.../workspaces/w"}
///     ]
///   }
/// }"#)?;
/// let a = &t[0].automation;
/// assert_eq!(a.name, "notify-high");
/// assert_eq!(a.actions.len(), 1); // the LogicApp, as a webhook
/// assert!(t[0].untranslated.iter().any(|u| u.contains("Workspace")));
/// # Ok::<(), vigil_core::Error>(())
/// ```
pub fn parse_automations(text: &str) -> Result<Vec<Translation>, Error> {
    let value = crate::json::parse(text)?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut m) if m.get("value").is_some_and(Value::is_array) => {
            match m.remove("value") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            }
        }
        other => vec![other],
    };
    if items.is_empty() {
        return Err(Error::document("", "no automation in the document"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("[{i}]");
        let t = match item {
            Value::Object(m) if m.contains_key("properties") => from_defender(m, &path)?,
            Value::Object(m) => Translation {
                automation: serde_json::from_value(Value::Object(m))
                    .map_err(|e| Error::document(&path, e.to_string()))?,
                untranslated: Vec::new(),
            },
            _ => {
                return Err(Error::document(
                    path,
                    "an automation is a JSON object (Vigil's form, or a Defender resource)",
                ));
            }
        };
        t.automation.check()?;
        out.push(t);
    }
    Ok(out)
}

fn text<'a>(m: &'a JsonMap, key: &str) -> Option<&'a str> {
    m.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
}

fn field<'a>(m: &'a JsonMap, key: &str) -> Option<&'a Value> {
    m.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn objects<'a>(m: &'a JsonMap, key: &str) -> Vec<&'a JsonMap> {
    field(m, key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

/// One Defender resource.
fn from_defender(resource: JsonMap, path: &str) -> Result<Translation, Error> {
    let mut untranslated = Vec::new();
    let name = text(&resource, "name")
        .map(str::to_owned)
        .ok_or_else(|| Error::document(format!("{path}.name"), "the automation has no name"))?;
    let props = field(&resource, "properties")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::document(format!("{path}.properties"), "expected an object"))?;
    let enabled = match field(props, "isEnabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(Error::document(
                format!("{path}.properties.isEnabled"),
                "expected true or false",
            ));
        }
    };

    let mut conditions = Vec::new();
    // Scopes: the tenant is the subscription; resource groups narrow by resource id.
    let mut groups = Vec::new();
    let mut whole_subscription = false;
    for scope in objects(props, "scopes") {
        let Some(p) = text(scope, "scopePath") else {
            continue;
        };
        let lower = p.trim().trim_end_matches('/').to_ascii_lowercase();
        if lower.contains("/resourcegroups/") {
            groups.push(format!("{lower}/"));
        } else {
            whole_subscription = true;
            untranslated.push(format!(
                "scope {p:?}: a subscription scope is the tenant the automation is added to"
            ));
        }
    }
    if !groups.is_empty() && !whole_subscription {
        let tests: Vec<Condition> = groups
            .iter()
            .map(|g| Condition::starts_with("resourceIdentifiers.azureResourceId", g.clone()))
            .collect();
        conditions.push(if tests.len() == 1 {
            tests.into_iter().next().unwrap_or_default()
        } else {
            Condition::any_of(tests)
        });
    }

    // Sources: only alerts.
    let mut alert_sources = 0;
    let mut sets: Vec<Vec<Condition>> = Vec::new();
    let mut any_set_given = false;
    for (si, source) in objects(props, "sources").into_iter().enumerate() {
        let kind = text(source, "eventSource").unwrap_or("");
        if !kind.eq_ignore_ascii_case("Alerts") {
            untranslated.push(format!(
                "source {kind:?}: only alerts trigger automations in Vigil; left out"
            ));
            continue;
        }
        alert_sources += 1;
        for (ri, set) in objects(source, "ruleSets").into_iter().enumerate() {
            any_set_given = true;
            let at = format!("sources[{si}].ruleSets[{ri}]");
            let rules = objects(set, "rules");
            if rules.is_empty() {
                untranslated.push(format!("{at}: a rule set without rules; left out"));
                continue;
            }
            let mut conds = Vec::new();
            let mut ok = true;
            for (k, rule) in rules.into_iter().enumerate() {
                match rule_condition(rule) {
                    Ok(Some(c)) => conds.push(c),
                    Ok(None) => untranslated.push(format!(
                        "{at}.rules[{k}]: `Version Contains \"3.\"` is Defender's match-anything rule; no condition"
                    )),
                    Err(why) => {
                        untranslated.push(format!(
                            "{at}.rules[{k}]: {why}; the whole rule set is left out"
                        ));
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                sets.push(conds);
            }
        }
    }
    if alert_sources == 0 {
        return Err(Error::document(
            format!("{path}.properties.sources"),
            "no source with eventSource \"Alerts\": nothing in this automation concerns alerts",
        ));
    }
    if any_set_given && sets.is_empty() {
        return Err(Error::document(
            format!("{path}.properties.sources"),
            format!(
                "no rule set translates, so the automation could never fire: {}",
                untranslated.join("; ")
            ),
        ));
    }
    match sets.len() {
        0 => {}
        1 => conditions.extend(sets.into_iter().flatten()),
        _ => conditions.push(Condition::any_of(sets.into_iter().map(|s| {
            if s.is_empty() {
                // A set that matches everything: `exists` on a property every alert has.
                Condition::exists("alertType", true)
            } else {
                Condition::all_of(s)
            }
        }))),
    }

    let mut actions = Vec::new();
    for (ai, action) in objects(props, "actions").into_iter().enumerate() {
        let kind = text(action, "actionType").unwrap_or("");
        if kind.eq_ignore_ascii_case("LogicApp") {
            match text(action, "uri") {
                Some(uri) => actions.push(Action::Webhook(Webhook::new(uri))),
                None => untranslated.push(format!(
                    "actions[{ai}]: a LogicApp action without its trigger uri (Defender never returns \
                     it; add \"uri\" to the file); left out"
                )),
            }
        } else {
            untranslated.push(format!(
                "actions[{ai}]: {kind} actions (continuous export) have no Vigil equivalent; left out"
            ));
        }
    }
    if actions.is_empty() {
        return Err(Error::document(
            format!("{path}.properties.actions"),
            format!(
                "no action translates (only LogicApp actions with their uri do): {}",
                untranslated.join("; ")
            ),
        ));
    }
    untranslated.push(
        "triggers: Defender runs automations when an alert is created or updated; so does this one \
         (alertCreated, alertUpdated)"
            .into(),
    );
    let mut automation = Automation::new(
        name,
        [Trigger::AlertCreated, Trigger::AlertUpdated],
        actions,
    )
    .enabled(enabled);
    automation.conditions = conditions;
    if let Some(d) = text(props, "description").filter(|d| !d.is_empty()) {
        automation.description = Some(d.to_owned());
    }
    Ok(Translation {
        automation,
        untranslated,
    })
}

/// The Vigil field path of a `propertyJPath` over the PascalCase alert.
fn field_path(jpath: &str) -> Result<String, String> {
    let p = jpath.trim();
    let p = p.strip_prefix("$.").unwrap_or(p);
    let p = if p.len() > 11 && p[..11].eq_ignore_ascii_case("properties.") {
        &p[11..]
    } else {
        p
    };
    let lower = p.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("extendedproperties") {
        let key = &p[p.len() - rest.len()..];
        let key = key
            .strip_prefix('.')
            .or_else(|| {
                key.strip_prefix("['")
                    .and_then(|k| k.strip_suffix("']"))
                    .or_else(|| key.strip_prefix("[\"").and_then(|k| k.strip_suffix("\"]")))
            })
            .filter(|k| !k.is_empty())
            .ok_or_else(|| format!("path {jpath:?}: name one extended property"))?;
        return Ok(format!("extendedProperties.{key}"));
    }
    let direct = [
        ("alertdisplayname", "alertDisplayName"),
        ("alertname", "alertDisplayName"),
        ("displayname", "alertDisplayName"),
        ("alerttype", "alertType"),
        ("severity", "severity"),
        ("reportedseverity", "severity"),
        ("status", "status"),
        ("description", "description"),
        ("compromisedentity", "compromisedEntity"),
        ("intent", "intent"),
        ("productname", "productName"),
        ("productcomponentname", "productComponentName"),
        ("vendorname", "vendorName"),
        ("systemalertid", "systemAlertId"),
        ("alerturi", "alertUri"),
        ("isincident", "isIncident"),
        ("version", "version"),
        ("correlationkey", "correlationKey"),
        ("remediationsteps", "remediationSteps"),
        ("starttimeutc", "startTimeUtc"),
        ("endtimeutc", "endTimeUtc"),
        ("timegenerated", "timeGeneratedUtc"),
        ("timegeneratedutc", "timeGeneratedUtc"),
        ("processingendtime", "processingEndTimeUtc"),
        ("processingendtimeutc", "processingEndTimeUtc"),
        ("azureresourceid", "resourceIdentifiers.azureResourceId"),
        ("workspaceid", "resourceIdentifiers.workspaceId"),
        (
            "workspacesubscriptionid",
            "resourceIdentifiers.workspaceSubscriptionId",
        ),
        (
            "workspaceresourcegroup",
            "resourceIdentifiers.workspaceResourceGroup",
        ),
        ("agentid", "resourceIdentifiers.agentId"),
    ];
    direct
        .iter()
        .find(|(k, _)| *k == lower)
        .map(|(_, v)| (*v).to_owned())
        .ok_or_else(|| {
            if lower.starts_with("entities") || lower.starts_with("resourceidentifiers") {
                format!("path {jpath:?} reaches into an array, which Defender does not specify")
            } else {
                format!("path {jpath:?} is not a property of the alert schema")
            }
        })
}

/// One Defender rule as a condition; `None` for the match-anything template rule.
fn rule_condition(rule: &JsonMap) -> Result<Option<Condition>, String> {
    let jpath = text(rule, "propertyJPath").ok_or("the rule has no propertyJPath")?;
    let op = text(rule, "operator").ok_or("the rule has no operator")?;
    let ptype = text(rule, "propertyType").unwrap_or("String");
    let expected = match field(rule, "expectedValue") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => return Err("the rule has no expectedValue".into()),
    };
    let path = field_path(jpath)?;
    if path == "version" && op.eq_ignore_ascii_case("Contains") {
        return Ok(None);
    }
    let numeric = ptype.eq_ignore_ascii_case("Integer") || ptype.eq_ignore_ascii_case("Number");
    // Defender writes statuses of its export schema; Vigil writes `New` as `Active`.
    let value = if path == "status" && expected.eq_ignore_ascii_case("New") {
        "Active".to_owned()
    } else {
        expected
    };
    let c = match op.to_ascii_lowercase().as_str() {
        "equals" => Condition::equals(&path, value),
        "notequals" => Condition::negate(Condition::equals(&path, value)),
        "contains" | "startswith" | "endswith" if numeric => {
            return Err(format!("operator {op} is not defined for {ptype} values"));
        }
        "contains" | "startswith" | "endswith" if value.is_empty() => {
            return Err(format!(
                "operator {op} with an empty value would match everything"
            ));
        }
        "contains" => Condition::contains(&path, value),
        "startswith" => Condition::starts_with(&path, value),
        "endswith" => Condition::ends_with(&path, value),
        "greaterthan" | "greaterthanorequalto" | "lesserthan" | "lesserthanorequalto" => {
            return Err(format!(
                "operator {op}: Vigil's condition language has no numeric comparison"
            ));
        }
        _ => return Err(format!("unknown operator {op:?}")),
    };
    Ok(Some(c))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::suppression::RuleSet;
    use crate::{Alert, AlertId, Severity};

    fn alert(name: &str, sev: Severity) -> Alert {
        Alert::builder(
            AlertId::new("a").unwrap(),
            "VM_X",
            name,
            sev,
            chrono::Utc::now(),
        )
        .build()
    }

    #[test]
    fn rule_sets_or_rules_and() {
        let t = parse_automations(
            r#"{"name":"n","properties":{"sources":[{"eventSource":"Alerts","ruleSets":[
              {"rules":[{"propertyJPath":"Severity","propertyType":"String","expectedValue":"high","operator":"Equals"},
                        {"propertyJPath":"AlertDisplayName","propertyType":"String","expectedValue":"crypto","operator":"Contains"}]},
              {"rules":[{"propertyJPath":"Severity","propertyType":"String","expectedValue":"low","operator":"Equals"}]},
              {"rules":[{"propertyJPath":"Entities[0].HostName","propertyType":"String","expectedValue":"x","operator":"Equals"}]}
            ]}],"actions":[{"actionType":"LogicApp","uri":"https://h.example/x"}]}}"#,
        )
        .unwrap();
        let a = &t[0].automation;
        assert!(t[0].untranslated.iter().any(|u| u.contains("array")));
        let set = RuleSet::compile([a.condition_rule()]).unwrap();
        let now = chrono::Utc::now();
        assert!(set.is_suppressed(&alert("Crypto miner", Severity::High), now));
        assert!(!set.is_suppressed(&alert("Other", Severity::High), now));
        assert!(set.is_suppressed(&alert("Other", Severity::Low), now));
        assert!(!set.is_suppressed(&alert("Crypto", Severity::Medium), now));
    }

    #[test]
    fn template_and_refusals() {
        let t = parse_automations(
            r#"[{"name":"all","properties":{"sources":[{"eventSource":"Alerts","ruleSets":[
              {"rules":[{"propertyJPath":"Version","propertyType":"String","expectedValue":"3.","operator":"Contains"}]}
            ]}],"actions":[{"actionType":"LogicApp","uri":"https://h.example/x"}]}}]"#,
        )
        .unwrap();
        assert!(t[0].automation.conditions.is_empty());
        let e = parse_automations(
            r#"{"name":"n","properties":{"sources":[{"eventSource":"Alerts","ruleSets":[
              {"rules":[{"propertyJPath":"Severity","propertyType":"Integer","expectedValue":"3","operator":"GreaterThan"}]}
            ]}],"actions":[{"actionType":"LogicApp","uri":"https://h.example/x"}]}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("could never fire"), "{e}");
        let e = parse_automations(
            r#"{"name":"n","properties":{"sources":[{"eventSource":"Assessments"}],"actions":[]}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("Alerts"), "{e}");
        let e = parse_automations(
            r#"{"name":"n","properties":{"sources":[{"eventSource":"Alerts"}],"actions":[{"actionType":"LogicApp"}]}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("uri"), "{e}");
    }

    #[test]
    fn resource_group_scope_narrows() {
        let t = parse_automations(
            r#"{"name":"rg","properties":{"scopes":[{"scopePath":"/subscriptions/s/resourceGroups/Prod"}],
              "sources":[{"eventSource":"Alerts"}],"actions":[{"actionType":"LogicApp","uri":"https://h.example/x"}]}}"#,
        )
        .unwrap();
        let c = serde_json::to_string(&t[0].automation.conditions).unwrap();
        assert!(c.contains("/subscriptions/s/resourcegroups/prod/"), "{c}");
    }
}
