//! Suppression rules over the generated alerts' values.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use vigil_core::suppression::{RULE_RESOURCE_TYPE, RuleState, SuppressionRule};

use super::fields::*;
use super::reference_time;
use super::world::{
    ENVS, FILE_EXTS, FILE_STEMS, FIRST_NAMES, Family, INTERNAL_PREFIXES, LAST_NAMES,
    PUBLIC_PREFIXES, RESOURCE_GROUPS, ROLES, World, host_name, world,
};

/// One condition of a generated rule: a field path and one test.
///
/// The first element of each variant is the field path (one of [`super::fields`]). Every test
/// but `In` has one value; all compare ignoring case, as Vigil's conditions do by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CondSpec {
    /// Some value at the field equals one of the values.
    In(String, Vec<String>),
    /// Some value contains the text.
    Contains(String, String),
    /// Some value starts with the text.
    StartsWith(String, String),
    /// Some value ends with the text.
    EndsWith(String, String),
    /// Some value matches the glob (`*`, `?`) as a whole.
    Wildcard(String, String),
    /// Some value matches the regular expression as a whole.
    Regex(String, String),
    /// Some value is an address in the network. Generated networks are IPv4 and octet-aligned
    /// (`/8`, `/16`, `/24` or `/32`), so that engines without CIDR support can express them.
    Cidr(String, String),
}

impl CondSpec {
    /// The field path.
    pub fn field(&self) -> &str {
        match self {
            CondSpec::In(f, _)
            | CondSpec::Contains(f, _)
            | CondSpec::StartsWith(f, _)
            | CondSpec::EndsWith(f, _)
            | CondSpec::Wildcard(f, _)
            | CondSpec::Regex(f, _)
            | CondSpec::Cidr(f, _) => f,
        }
    }

    /// The operator's name in the rule JSON (`in`, `contains`, `startsWith`, …).
    pub fn operator(&self) -> &'static str {
        match self {
            CondSpec::In(..) => "in",
            CondSpec::Contains(..) => "contains",
            CondSpec::StartsWith(..) => "startsWith",
            CondSpec::EndsWith(..) => "endsWith",
            CondSpec::Wildcard(..) => "wildcard",
            CondSpec::Regex(..) => "regex",
            CondSpec::Cidr(..) => "cidr",
        }
    }

    /// The condition in the rule JSON form: `{"field": F, "<operator>": value}`.
    pub fn to_json(&self) -> Value {
        let value = match self {
            CondSpec::In(_, vs) => json!(vs),
            CondSpec::Contains(_, v)
            | CondSpec::StartsWith(_, v)
            | CondSpec::EndsWith(_, v)
            | CondSpec::Wildcard(_, v)
            | CondSpec::Regex(_, v)
            | CondSpec::Cidr(_, v) => json!(v),
        };
        let mut m = serde_json::Map::new();
        m.insert("field".into(), json!(self.field()));
        m.insert(self.operator().into(), value);
        Value::Object(m)
    }
}

/// A generated suppression rule, as plain data: what [`RuleSpec::to_json`] writes as a Defender
/// rule resource and what other engines can be given in their own form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    /// The rule's name (unique per generator).
    pub name: String,
    /// The alert type the rule applies to, or `*` for every type.
    pub alert_type: String,
    /// The suppression reason (`FalsePositive`, `Noise`, …).
    pub reason: String,
    /// The stored state.
    pub state: RuleState,
    /// The expiry, if any: the rule matches only strictly before it. Whole seconds.
    pub expiration: Option<DateTime<Utc>>,
    /// A comment, as people write them.
    pub comment: String,
    /// The conditions, all of which must hold (one to three).
    pub conditions: Vec<CondSpec>,
}

impl RuleSpec {
    /// Whether the rule applies to every alert type (`*`).
    pub fn is_any_type(&self) -> bool {
        self.alert_type == "*"
    }

    /// Whether the rule is in force at `at`: `Enabled` and not expired (expiry is exclusive).
    pub fn is_active_at(&self, at: DateTime<Utc>) -> bool {
        self.state == RuleState::Enabled && self.expiration.is_none_or(|e| at < e)
    }

    /// The rule resource form of `docs/suppression.md`
    /// (`{"id", "name", "type", "properties": {"alertType", …, "suppressionAlertsScope"}}`).
    pub fn to_json(&self) -> Value {
        let mut props = serde_json::Map::new();
        props.insert("alertType".into(), json!(self.alert_type));
        props.insert("reason".into(), json!(self.reason));
        props.insert("state".into(), json!(self.state.as_str()));
        if let Some(e) = self.expiration {
            props.insert(
                "expirationDateUtc".into(),
                json!(e.to_rfc3339_opts(SecondsFormat::Micros, true)),
            );
        }
        props.insert(
            "lastModifiedUtc".into(),
            json!("2026-01-15T09:30:00.000000Z"),
        );
        props.insert("comment".into(), json!(self.comment));
        props.insert(
            "suppressionAlertsScope".into(),
            json!({ "allOf": self.conditions.iter().map(CondSpec::to_json).collect::<Vec<_>>() }),
        );
        json!({
            "id": format!(
                "/subscriptions/{}/providers/Microsoft.Security/alertsSuppressionRules/{}",
                world().subscriptions.first().map(String::as_str).unwrap_or_default(),
                self.name
            ),
            "name": self.name,
            "type": RULE_RESOURCE_TYPE,
            "properties": props,
        })
    }

    /// The rule, read from [`RuleSpec::to_json`] by [`SuppressionRule::from_json`].
    pub fn to_rule(&self) -> Result<SuppressionRule, vigil_core::Error> {
        SuppressionRule::from_json(self.to_json())
    }
}

/// How many generated rules are *hot*: every condition drawn from values the alerts carry, so
/// that the rule suppresses some of them. The other rules have at least one condition on values
/// no generated alert has (another tenant's hosts, addresses, tools): they cost a matcher work
/// but match nothing. This sets the share of suppressed alerts.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum HotRules {
    /// About this many hot rules per [`RuleGenerator::rules`] call, whatever its size (each
    /// rule is hot with probability `count / n`, at most 1), so that the share of suppressed
    /// alerts stays about the same from 100 to 100,000 rules: a few percent for 20.
    Expected(f64),
    /// This fraction of the rules.
    Fraction(f64),
}

/// The proportions of a generated rule set. [`RuleMix::default`] is the benchmark's mix.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleMix {
    /// Fraction of rules on every alert type (`*`); these test one specific entity.
    pub any_type: f64,
    /// Fraction of rules already expired at [`super::reference_time`] (half stored as
    /// `Expired`, half `Enabled` with a past expiry date).
    pub expired: f64,
    /// Fraction of rules stored `Disabled`.
    pub disabled: f64,
    /// Fraction of the remaining rules with an expiry date after the reference time.
    pub expiring: f64,
    /// How many rules can match generated alerts.
    pub hot: HotRules,
}

impl Default for RuleMix {
    fn default() -> RuleMix {
        RuleMix {
            any_type: 0.03,
            expired: 0.05,
            disabled: 0.05,
            expiring: 0.3,
            hot: HotRules::Expected(20.0),
        }
    }
}

/// Generates suppression rules over the values the [`super::AlertGenerator`] uses,
/// deterministically for a seed.
///
/// Rules target specific alert types with the same skew as the alerts (a few percent are `*`),
/// have one to three conditions mixing `in`, `contains`, `startsWith`, `endsWith`, `wildcard`,
/// `regex` and `cidr` on the fields an alert of that type carries, and a mix of states and
/// expiry dates ([`RuleMix`]).
///
/// ```
/// use vigil_testkit::generate::RuleGenerator;
///
/// let rules = RuleGenerator::new(3).rules(20);
/// assert_eq!(rules, RuleGenerator::new(3).rules(20));
/// assert!(rules.iter().all(|r| (1..=3).contains(&r.conditions.len())));
/// # for r in &rules { r.to_rule()?; }
/// # Ok::<(), vigil_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RuleGenerator {
    rng: StdRng,
    mix: RuleMix,
    count: u64,
}

const REASONS: [(&str, u32); 7] = [
    ("FalsePositive", 30),
    ("Noise", 20),
    ("SpecificEntityFalsePositive", 20),
    ("NotRelevant", 12),
    ("AlertSeverityTooHigh", 8),
    ("Unclear", 5),
    ("BenignPositive", 5),
];

/// The fields a rule on an alert of `family` tests, with weights: the entity kinds such alerts
/// carry, the compromised entity and the resource type.
fn family_fields(family: Family) -> &'static [(&'static str, u32)] {
    match family {
        Family::Vm => &[
            (HOST_NAME, 4),
            (IP_ADDRESS, 4),
            (COMMAND_LINE, 5),
            (ACCOUNT_NAME, 3),
            (FILE_NAME, 2),
            (FILE_DIRECTORY, 1),
            (COMPROMISED_ENTITY, 2),
            (RESOURCE_ID, 1),
        ],
        Family::K8s => &[
            (RESOURCE_ID, 4),
            (COMMAND_LINE, 4),
            (HOST_NAME, 2),
            (IP_ADDRESS, 2),
            (COMPROMISED_ENTITY, 1),
        ],
        Family::Sql => &[
            (IP_ADDRESS, 5),
            (ACCOUNT_NAME, 3),
            (RESOURCE_ID, 3),
            (COMPROMISED_ENTITY, 1),
        ],
        Family::Storage => &[
            (IP_ADDRESS, 5),
            (RESOURCE_ID, 4),
            (FILE_NAME, 2),
            (RESOURCE_TYPE, 1),
        ],
        Family::Arm => &[(IP_ADDRESS, 4), (ACCOUNT_NAME, 4), (RESOURCE_ID, 2)],
        Family::KeyVault => &[(IP_ADDRESS, 4), (ACCOUNT_NAME, 3), (RESOURCE_ID, 3)],
        Family::Dns => &[
            (HOST_NAME, 4),
            (IP_ADDRESS, 4),
            (COMPROMISED_ENTITY, 1),
            (RESOURCE_TYPE, 1),
        ],
        Family::AppServices => &[
            (IP_ADDRESS, 4),
            (RESOURCE_ID, 3),
            (COMMAND_LINE, 2),
            (FILE_NAME, 2),
            (COMPROMISED_ENTITY, 1),
        ],
    }
}

/// Fields of `*` rules: one specific entity (a scanner's address, a test host, an account).
const ANY_TYPE_FIELDS: [(&str, u32); 3] = [(IP_ADDRESS, 6), (HOST_NAME, 3), (ACCOUNT_NAME, 2)];

fn weighted<'a>(rng: &mut impl Rng, items: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut u = rng.random_range(0..total.max(1));
    for (item, w) in items {
        if u < *w {
            return item;
        }
        u -= w;
    }
    items.last().map(|(i, _)| *i).unwrap_or(IP_ADDRESS)
}

fn pick<'a>(rng: &mut impl Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

impl RuleGenerator {
    /// A generator with the default [`RuleMix`]; the same seed always yields the same rules.
    pub fn new(seed: u64) -> RuleGenerator {
        RuleGenerator::with_mix(seed, RuleMix::default())
    }

    /// A generator with another mix.
    pub fn with_mix(seed: u64, mix: RuleMix) -> RuleGenerator {
        RuleGenerator {
            rng: StdRng::seed_from_u64(seed ^ 0x050B_BE55_0000_0002),
            mix,
            count: 0,
        }
    }

    /// The next `n` rules.
    pub fn rules(&mut self, n: usize) -> Vec<RuleSpec> {
        let hot = match self.mix.hot {
            HotRules::Expected(k) => k / n.max(1) as f64,
            HotRules::Fraction(f) => f,
        };
        (0..n).map(|_| self.rule(hot.clamp(0.0, 1.0))).collect()
    }

    /// The next rule; it is hot with probability `hot`.
    fn rule(&mut self, hot: f64) -> RuleSpec {
        let w = world();
        self.count += 1;
        let mix = self.mix.clone();
        let rng = &mut self.rng;

        let any_type = rng.random_bool(mix.any_type.clamp(0.0, 1.0));
        let (alert_type, fields): (String, &[(&str, u32)]) = if any_type {
            ("*".to_owned(), &ANY_TYPE_FIELDS)
        } else {
            let ty = w.alert_types.draw(rng);
            (ty.name.clone(), family_fields(ty.family))
        };
        let family = w
            .alert_types
            .items
            .iter()
            .find(|t| t.name == alert_type)
            .map(|t| t.family);

        let hot = rng.random_bool(hot);
        let n_conditions = match rng.random_range(0..100) {
            0..45 => 1,
            45..85 => 2,
            _ => 3,
        };
        let cold_index = rng.random_range(0..n_conditions);
        let mut conditions: Vec<CondSpec> = Vec::with_capacity(n_conditions);
        let mut used: Vec<&str> = Vec::new();
        for i in 0..n_conditions {
            // Distinct fields where the family has enough of them.
            let mut field = weighted(rng, fields);
            for _ in 0..4 {
                if !used.contains(&field) {
                    break;
                }
                field = weighted(rng, fields);
            }
            used.push(field);
            let hot_cond = hot || (i != cold_index && rng.random_bool(0.5));
            conditions.push(condition(rng, w, field, hot_cond, any_type, family));
        }

        let r = rng.random::<f64>();
        let (state, expiration) = if r < mix.expired {
            let past = reference_time() - Duration::seconds(rng.random_range(1..180 * 86_400));
            let state = if rng.random_bool(0.5) {
                RuleState::Expired
            } else {
                RuleState::Enabled
            };
            (state, Some(past))
        } else if r < mix.expired + mix.disabled {
            let exp = rng
                .random_bool(0.3)
                .then(|| reference_time() + Duration::seconds(rng.random_range(1..365 * 86_400)));
            (RuleState::Disabled, exp)
        } else if rng.random_bool(mix.expiring.clamp(0.0, 1.0)) {
            let exp = reference_time() + Duration::seconds(rng.random_range(1..365 * 86_400));
            (RuleState::Enabled, Some(exp))
        } else {
            (RuleState::Enabled, None)
        };

        let reason = {
            let total: u32 = REASONS.iter().map(|(_, w)| w).sum();
            let mut u = rng.random_range(0..total);
            let mut chosen = "FalsePositive";
            for (name, weight) in REASONS {
                if u < weight {
                    chosen = name;
                    break;
                }
                u -= weight;
            }
            chosen.to_owned()
        };
        let comment = pick(
            rng,
            &[
                "Known scanner",
                "Pen test window",
                "Approved admin tooling",
                "Test VM",
                "Noisy on build agents",
                "Ticket SEC-4821",
                "Vendor remote support",
                "Backup job",
            ],
        )
        .to_string();

        let slug = if any_type {
            "all-types".to_owned()
        } else {
            slug(&alert_type)
        };
        RuleSpec {
            name: format!("sr-{:06}-{slug}", self.count),
            alert_type,
            reason,
            state,
            expiration,
            comment,
            conditions,
        }
    }
}

/// An address no generated alert carries.
fn cold_ip(rng: &mut impl Rng) -> String {
    match rng.random_range(0..3) {
        0 => format!(
            "10.{}.{}.{}",
            rng.random_range(8..250u32),
            rng.random_range(0..256u32),
            rng.random_range(1..255u32)
        ),
        1 => format!(
            "{}.{}.{}.{}",
            rng.random_range(60..90u32),
            rng.random_range(0..256u32),
            rng.random_range(0..256u32),
            rng.random_range(1..255u32)
        ),
        _ => format!("203.0.113.{}", rng.random_range(1..255u32)),
    }
}

/// A host name of the world's scheme that no generated alert carries.
fn cold_host(rng: &mut impl Rng) -> String {
    host_name(
        pick(rng, &ENVS),
        pick(rng, &ROLES),
        rng.random_range(7..100),
    )
}

fn cold_account(rng: &mut impl Rng) -> String {
    if rng.random_bool(0.5) {
        format!("svc-app{}", rng.random_range(100..1000u32))
    } else {
        format!(
            "{}.{}{}",
            pick(rng, &FIRST_NAMES),
            pick(rng, &LAST_NAMES),
            rng.random_range(2..99u32)
        )
    }
}

fn cold_resource(rng: &mut impl Rng) -> String {
    format!(
        "/subscriptions/{:08x}-0000-4000-8000-{:012x}/resourceGroups/rg-legacy-{}/providers/Microsoft.Compute/virtualMachines/{}",
        rng.random::<u32>(),
        rng.random::<u64>() & 0xFFFF_FFFF_FFFF,
        rng.random_range(1..50u32),
        cold_host(rng)
    )
}

fn ipv4_pool(w: &World, rng: &mut impl Rng) -> String {
    for _ in 0..16 {
        let ip = w.ips.draw(rng);
        if !ip.contains(':') {
            return ip.clone();
        }
    }
    "10.0.0.1".to_owned()
}

fn list<F: FnMut(&mut StdRng) -> String>(rng: &mut StdRng, max: usize, mut f: F) -> Vec<String> {
    let n = rng.random_range(1..=max);
    let mut out: Vec<String> = Vec::with_capacity(n);
    for _ in 0..n {
        let v = f(rng);
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// One condition on `field`; `hot` draws values from what alerts carry.
fn condition(
    rng: &mut StdRng,
    w: &World,
    field: &str,
    hot: bool,
    any_type: bool,
    family: Option<Family>,
) -> CondSpec {
    let f = field.to_owned();
    // `*` rules name specific entities only.
    let op = if any_type {
        0
    } else {
        rng.random_range(0..10u32)
    };
    match field {
        IP_ADDRESS => match op {
            0..=5 => CondSpec::In(
                f,
                list(rng, 4, |r| {
                    if hot {
                        w.ips.draw(r).clone()
                    } else {
                        cold_ip(r)
                    }
                }),
            ),
            6..=8 => {
                let net = if hot {
                    match rng.random_range(0..10) {
                        0..=3 => format!(
                            "{}.{}.0/24",
                            pick(rng, &INTERNAL_PREFIXES),
                            rng.random_range(0..8u32)
                        ),
                        4..=6 => format!("{}.0.0/16", pick(rng, &PUBLIC_PREFIXES)),
                        7 => format!("{}/32", ipv4_pool(w, rng)),
                        8 => format!("{}.0.0/16", pick(rng, &INTERNAL_PREFIXES)),
                        _ => "10.0.0.0/8".to_owned(),
                    }
                } else {
                    match rng.random_range(0..3) {
                        0 => format!("10.{}.0.0/16", rng.random_range(8..250u32)),
                        1 => format!("{}.0.0.0/8", rng.random_range(60..90u32)),
                        _ => format!("{}/32", cold_ip(rng)),
                    }
                };
                CondSpec::Cidr(f, net)
            }
            _ => {
                let prefix = if hot {
                    format!("{}.", pick(rng, &INTERNAL_PREFIXES))
                } else {
                    format!("10.{}.", rng.random_range(8..250u32))
                };
                CondSpec::StartsWith(f, prefix)
            }
        },
        HOST_NAME => match op {
            0..=4 => CondSpec::In(
                f,
                list(rng, 3, |r| {
                    if hot {
                        w.hosts.draw(r).name.clone()
                    } else {
                        cold_host(r)
                    }
                }),
            ),
            5 => CondSpec::StartsWith(
                f,
                if hot {
                    format!("{}-{}-", pick(rng, &ENVS), pick(rng, &ROLES))
                } else {
                    format!("{}-", pick(rng, &["lab", "sandbox", "poc", "vdi"]))
                },
            ),
            6 => CondSpec::EndsWith(
                f,
                if hot {
                    format!("-{}-0{}", pick(rng, &ROLES), rng.random_range(1..=6))
                } else {
                    format!("-{}-{}", pick(rng, &ROLES), rng.random_range(10..99))
                },
            ),
            7 | 8 => CondSpec::Wildcard(
                f,
                if hot {
                    if rng.random_bool(0.5) {
                        format!("{}-{}-0?", pick(rng, &ENVS), pick(rng, &ROLES))
                    } else {
                        format!("{}-*-0{}", pick(rng, &ENVS), rng.random_range(1..=6))
                    }
                } else {
                    format!(
                        "{}-{}-?{}",
                        pick(rng, &ENVS),
                        pick(rng, &ROLES),
                        rng.random_range(7..10)
                    )
                },
            ),
            _ => CondSpec::Regex(
                f,
                if hot {
                    if rng.random_bool(0.2) {
                        "aks-nodepool1-[0-9]{8}-vmss[0-9]{6}".to_owned()
                    } else {
                        format!(
                            "({}|{})-{}-0[1-{}]",
                            pick(rng, &ENVS),
                            pick(rng, &ENVS),
                            pick(rng, &ROLES),
                            rng.random_range(1..=6)
                        )
                    }
                } else {
                    format!("{}-{}-[7-9][0-9]", pick(rng, &ENVS), pick(rng, &ROLES))
                },
            ),
        },
        ACCOUNT_NAME => match op {
            0..=5 => CondSpec::In(
                f,
                list(rng, 3, |r| {
                    if hot {
                        w.accounts.draw(r).clone()
                    } else {
                        cold_account(r)
                    }
                }),
            ),
            6 => CondSpec::StartsWith(
                f,
                if hot {
                    pick(rng, &["svc-", "CONTOSO\\", "sql"]).to_string()
                } else {
                    pick(rng, &["ext-", "guest_", "FABRIKAM\\"]).to_string()
                },
            ),
            7 => CondSpec::EndsWith(
                f,
                if hot {
                    "@contoso.com".to_owned()
                } else {
                    "@fabrikam.com".to_owned()
                },
            ),
            8 => CondSpec::Contains(
                f,
                if hot {
                    pick(rng, &["admin", "backup", ".smith"]).to_string()
                } else {
                    pick(rng, &["contractor", "intern", "vendor"]).to_string()
                },
            ),
            _ => CondSpec::Regex(
                f,
                if hot {
                    format!("(CONTOSO\\\\)?{}\\.[a-z]+", pick(rng, &FIRST_NAMES))
                } else {
                    "svc-app[0-9]{3}".to_owned()
                },
            ),
        },
        COMMAND_LINE => match op {
            0..=3 => CondSpec::Contains(
                f,
                if hot {
                    pick(
                        rng,
                        &[
                            "-EncodedCommand",
                            "DownloadString",
                            "comsvcs.dll",
                            "/tmp/",
                            "xmrig",
                            "vssadmin",
                            "certutil",
                            "kubectl exec",
                            "xp_cmdshell",
                            "StrictHostKeyChecking=no",
                            "/dev/tcp/",
                            "schtasks.exe /create",
                        ],
                    )
                    .to_string()
                } else {
                    match rng.random_range(0..3) {
                        0 => format!(
                            "C:\\Program Files\\Contoso\\Agent{}\\",
                            rng.random_range(1..999)
                        ),
                        1 => format!("/opt/contoso-agent-{}/", rng.random_range(1..999)),
                        _ => format!("ansible-playbook site-{}.yml", rng.random_range(1..999)),
                    }
                },
            ),
            4 | 5 => CondSpec::Wildcard(
                f,
                if hot {
                    pick(
                        rng,
                        &[
                            "*powershell.exe -File C:\\ProgramData\\*",
                            "curl -s -o /tmp/*",
                            "*nmap -sS*",
                            "cmd.exe /c net user * /domain*",
                            "wget -q http://*:*/* -O- | sh",
                        ],
                    )
                    .to_string()
                } else {
                    format!("*\\Contoso\\Agent{}\\*.exe*", rng.random_range(1..999))
                },
            ),
            6 | 7 => CondSpec::Regex(
                f,
                if hot {
                    pick(
                        rng,
                        &[
                            r".*(curl|wget) .*\|\s*(ba)?sh.*",
                            r".*rundll32\.exe .*comsvcs\.dll.*",
                            r".*-EncodedCommand [A-Za-z0-9+/]{24,}.*",
                            r"ssh .*@[0-9.]+ .*",
                            r".*reg(\.exe)? add .*\\CurrentVersion\\Run .*",
                        ],
                    )
                    .to_string()
                } else {
                    format!(
                        r".*contoso-agent-[0-9]+ --run {}.*",
                        rng.random_range(1..999)
                    )
                },
            ),
            8 => CondSpec::StartsWith(
                f,
                if hot {
                    pick(rng, &["cmd.exe /c whoami", "sudo nmap", "vssadmin.exe"]).to_string()
                } else {
                    format!(
                        "C:\\Program Files\\Contoso\\Agent{}",
                        rng.random_range(1..999)
                    )
                },
            ),
            _ => CondSpec::EndsWith(
                f,
                if hot {
                    pick(rng, &["/all /quiet", "0>&1"]).to_string()
                } else {
                    format!("--dry-run --id {}", rng.random_range(1..999))
                },
            ),
        },
        FILE_NAME => match op {
            0..=4 => CondSpec::In(
                f,
                list(rng, 3, |r| {
                    if hot {
                        w.files.draw(r).0.clone()
                    } else {
                        format!(
                            "{}{}{}",
                            pick(r, &FILE_STEMS),
                            r.random_range(2..99u32),
                            pick(r, &FILE_EXTS)
                        )
                    }
                }),
            ),
            5 | 6 => CondSpec::EndsWith(
                f,
                if hot {
                    pick(rng, &FILE_EXTS).to_string()
                } else {
                    pick(rng, &[".msix", ".jar", ".appx"]).to_string()
                },
            ),
            7 | 8 => CondSpec::Wildcard(
                f,
                if hot {
                    pick(rng, &["invoice_*.docm", "*.dmp", "proc*64.exe", "s?ell.*"]).to_string()
                } else {
                    format!("setup_v{}.?.msi", rng.random_range(1..99))
                },
            ),
            _ => CondSpec::StartsWith(
                f,
                if hot {
                    pick(rng, &FILE_STEMS).to_string()
                } else {
                    format!("contoso_{}", rng.random_range(1..999))
                },
            ),
        },
        FILE_DIRECTORY => match op {
            0..=5 => CondSpec::StartsWith(
                f,
                if hot {
                    pick(
                        rng,
                        &["C:\\Users\\", "/var/www/", "C:\\Windows\\Temp", "/tmp"],
                    )
                    .to_string()
                } else {
                    format!("D:\\Builds\\{}", rng.random_range(1..999))
                },
            ),
            _ => CondSpec::In(
                f,
                list(rng, 2, |r| {
                    if hot {
                        w.files.draw(r).1.clone()
                    } else {
                        format!("/srv/agents/{}", r.random_range(1..999))
                    }
                }),
            ),
        },
        RESOURCE_ID => match op {
            0..=3 => CondSpec::StartsWith(
                f,
                if hot {
                    format!(
                        "/subscriptions/{}/resourceGroups/{}",
                        &w.subscriptions[rng.random_range(0..w.subscriptions.len())],
                        pick(rng, &RESOURCE_GROUPS)
                    )
                } else {
                    format!(
                        "/subscriptions/{:08x}-0000-4000-8000-{:012x}/",
                        rng.random::<u32>(),
                        rng.random::<u64>() & 0xFFFF_FFFF_FFFF
                    )
                },
            ),
            4 | 5 => CondSpec::Contains(
                f,
                if hot {
                    pick(
                        rng,
                        &[
                            "/resourceGroups/rg-dev-",
                            "/resourceGroups/rg-test-",
                            "/providers/Microsoft.Storage/",
                            "/managedClusters/aks-prod-",
                        ],
                    )
                    .to_string()
                } else {
                    format!("/resourceGroups/rg-legacy-{}/", rng.random_range(1..99))
                },
            ),
            6 | 7 => CondSpec::Regex(
                f,
                if hot {
                    format!(
                        "/subscriptions/[0-9a-f-]+/resourceGroups/rg-({}|{})-[a-z]+/.*",
                        pick(rng, &ENVS),
                        pick(rng, &ENVS)
                    )
                } else {
                    "/subscriptions/[0-9a-f-]+/resourceGroups/rg-sandbox-[0-9]+/.*".to_owned()
                },
            ),
            8 => CondSpec::EndsWith(
                f,
                if hot {
                    let id = match family {
                        Some(fam) => w.resources_of(fam).draw(rng).clone(),
                        None => w.hosts.draw(rng).resource_id.clone(),
                    };
                    let last = id.rsplit('/').next().unwrap_or_default().to_owned();
                    format!("/{last}")
                } else {
                    format!("/{}", cold_host(rng))
                },
            ),
            _ => CondSpec::In(
                f,
                list(rng, 2, |r| {
                    if hot {
                        match family {
                            Some(fam) => w.resources_of(fam).draw(r).clone(),
                            None => w.hosts.draw(r).resource_id.clone(),
                        }
                    } else {
                        cold_resource(r)
                    }
                }),
            ),
        },
        COMPROMISED_ENTITY => match op {
            0..=6 => CondSpec::In(
                f,
                list(rng, 3, |r| {
                    if hot {
                        match family {
                            Some(Family::Vm | Family::Dns) | None => w.hosts.draw(r).name.clone(),
                            Some(fam) => w
                                .resources_of(fam)
                                .draw(r)
                                .rsplit('/')
                                .next()
                                .unwrap_or_default()
                                .to_owned(),
                        }
                    } else {
                        cold_host(r)
                    }
                }),
            ),
            _ => CondSpec::StartsWith(
                f,
                if hot {
                    format!("{}-", pick(rng, &ENVS))
                } else {
                    "lab-".to_owned()
                },
            ),
        },
        _ => CondSpec::In(
            f,
            if hot {
                vec![
                    family
                        .map(Family::resource_type)
                        .unwrap_or("Virtual Machine")
                        .to_owned(),
                ]
            } else {
                vec![pick(rng, &["Logic App", "Event Hub", "Service Bus"]).to_string()]
            },
        ),
    }
}
