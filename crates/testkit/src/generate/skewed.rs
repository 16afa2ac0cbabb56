//! A workload shaped like real Defender usage: many alert types with a steep popularity,
//! narrow rules over small value pools.

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vigil_core::suppression::RuleState;
use vigil_core::{Alert, AlertId, Entity, Severity};

use super::reference_time;
use super::rules::{CondSpec, RuleSpec};
use super::world::Zipf;

/// Field paths of the skewed workload's conditions.
pub mod skewed_fields {
    pub use super::super::fields::{
        ACCOUNT_NAME, COMMAND_LINE, FILE_NAME, HOST_NAME, IP_ADDRESS, RESOURCE_ID,
    };
    /// Every file hash entity's value.
    pub const FILE_HASH: &str = "entities.filehash.value";
}

use skewed_fields::*;

/// Alert-type prefixes of Defender's plans.
const PLANS: [&str; 30] = [
    "VM_",
    "VM.Windows_",
    "VM.Linux_",
    "Linux_",
    "Windows_",
    "K8S.NODE_",
    "K8S_",
    "K8S.CLUSTER_",
    "AKS_",
    "SQL.DB_",
    "SQL.VM_",
    "SQL.MI_",
    "SQL.POSTGRES_",
    "SQL.MYSQL_",
    "CosmosDB_",
    "Storage.Blob_",
    "Storage.Files_",
    "ARM_",
    "ARM.MCAS_",
    "KV_",
    "DNS_",
    "AzureDNS_",
    "Network_",
    "AppServices_",
    "APIM_",
    "AI.Azure_",
    "IoT_",
    "Sentinel_",
    "DevOps_",
    "MDE_",
];

const DETECTIONS: [&str; 18] = [
    "SuspiciousProcess",
    "AnomalousLogin",
    "BruteForce",
    "KnownMalware",
    "CryptoMiner",
    "LateralMovement",
    "PrivilegedAccess",
    "DataExfiltration",
    "CredentialDump",
    "PersistenceRegistry",
    "ReverseShell",
    "SuspiciousDownload",
    "PortScan",
    "TorAccess",
    "ThreatIntelIP",
    "ImpossibleTravel",
    "MassDeletion",
    "EncodedPowerShell",
];

/// Number of alert types (about Defender's alert reference).
pub const SKEWED_TYPES: usize = 530;

struct SkewedWorld {
    types: Vec<String>,
    type_rank: Zipf,
    hosts: Vec<String>,
    ips: Vec<String>,
    accounts: Vec<String>,
    commands: Vec<String>,
    files: Vec<String>,
    hashes: Vec<String>,
    resources: Vec<String>,
    value_rank: Zipf,
}

/// Size of every per-field value pool.
const POOL: usize = 800;

/// A letter-case style: lower, upper, or as written.
fn recase(s: &str, style: u32) -> String {
    match style {
        0 => s.to_lowercase(),
        1 => s.to_uppercase(),
        _ => s.to_owned(),
    }
}

fn skewed_world() -> &'static SkewedWorld {
    static WORLD: OnceLock<SkewedWorld> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(0x5EED_0530);
        let mut types = Vec::with_capacity(SKEWED_TYPES);
        'outer: for d in DETECTIONS {
            for p in PLANS {
                if types.len() == SKEWED_TYPES {
                    break 'outer;
                }
                types.push(format!("{p}{d}"));
            }
        }
        // Popularity is not in declaration order.
        for i in (1..types.len()).rev() {
            let j = rng.random_range(0..=i);
            types.swap(i, j);
        }
        let envs = ["prod", "dev", "test", "stage", "corp", "dmz"];
        let roles = ["web", "db", "app", "dc", "build", "jump", "k8s", "file"];
        let hosts: Vec<String> = (0..POOL)
            .map(|i| {
                let h = format!(
                    "{}-{}-{:02}",
                    envs[i % envs.len()],
                    roles[(i / envs.len()) % roles.len()],
                    i % 17 + 1
                );
                recase(&h, rng.random_range(0..3))
            })
            .collect();
        let ips: Vec<String> = (0..POOL)
            .map(|i| match i % 3 {
                0 => format!("10.{}.{}.{}", i % 7, rng.random_range(0..256), i + 1),
                1 => format!(
                    "{}.{}.{}.{}",
                    rng.random_range(20..220),
                    rng.random_range(0..256),
                    rng.random_range(0..256),
                    i + 1
                ),
                _ => format!("192.168.{}.{}", i % 11, rng.random_range(1..255)),
            })
            .collect();
        let first = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
        let accounts: Vec<String> = (0..POOL)
            .map(|i| match i % 3 {
                0 => format!("CONTOSO\\{}.{}", first[i % 8], i),
                1 => format!("svc-{}{}", roles[i % roles.len()], i),
                _ => format!("{}{}@Contoso.com", first[i % 8], i),
            })
            .collect();
        let tools = [
            "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\Scripts\\{}.ps1",
            "cmd.exe /c schtasks /create /tn Update{} /tr C:\\Tools\\agent.exe",
            "/bin/bash -c curl -s https://repo.contoso.com/install-{}.sh | sh",
            "C:\\Windows\\System32\\rundll32.exe C:\\ProgramData\\lib{}.dll,Start",
            "python3 /opt/monitor/collector.py --job {} --verbose",
            "wmic.exe process call create \"C:\\Backup\\run{}.bat\"",
        ];
        let commands: Vec<String> = (0..POOL)
            .map(|i| {
                let t = tools[i % tools.len()];
                recase(&t.replace("{}", &i.to_string()), rng.random_range(0..3))
            })
            .collect();
        let stems = ["invoice", "setup", "report", "payload", "update", "backup"];
        let exts = ["exe", "dll", "ps1", "docx", "zip", "sh"];
        let files: Vec<String> = (0..POOL)
            .map(|i| {
                let f = format!("{}{}.{}", stems[i % 6], i, exts[(i / 6) % 6]);
                recase(&f, rng.random_range(0..3))
            })
            .collect();
        let hashes: Vec<String> = (0..POOL)
            .map(|_| {
                let h: String = (0..4)
                    .map(|_| format!("{:016x}", rng.random::<u64>()))
                    .collect();
                recase(&h, rng.random_range(0..2))
            })
            .collect();
        let resources: Vec<String> = (0..POOL)
            .map(|i| {
                format!(
                    "/subscriptions/{:08x}-0000-4000-8000-00000000{:04x}/resourceGroups/RG-{}/providers/Microsoft.Compute/virtualMachines/{}",
                    0x1234_0000 + (i % 5) as u32,
                    i,
                    envs[i % envs.len()].to_uppercase(),
                    hosts.get(i).map(String::as_str).unwrap_or("vm")
                )
            })
            .collect();
        SkewedWorld {
            type_rank: Zipf::new(types.len(), 1.1),
            types,
            hosts,
            ips,
            accounts,
            commands,
            files,
            hashes,
            resources,
            value_rank: Zipf::new(POOL, 0.8),
        }
    })
}

impl SkewedWorld {
    fn pool(&self, field: &str) -> &[String] {
        match field {
            IP_ADDRESS => &self.ips,
            HOST_NAME => &self.hosts,
            ACCOUNT_NAME => &self.accounts,
            COMMAND_LINE => &self.commands,
            FILE_NAME => &self.files,
            FILE_HASH => &self.hashes,
            _ => &self.resources,
        }
    }

    fn draw<'w>(&'w self, rng: &mut impl Rng, field: &str) -> &'w str {
        let pool = self.pool(field);
        pool.get(self.value_rank.sample(rng))
            .map(String::as_str)
            .unwrap_or_default()
    }

    fn alert_type(&self, rng: &mut impl Rng) -> &str {
        self.types
            .get(self.type_rank.sample(rng))
            .map(String::as_str)
            .unwrap_or("VM_SuspiciousProcess")
    }
}

/// Fields of the skewed workload with how often rules test them.
const RULE_FIELDS: [(&str, u32); 7] = [
    (IP_ADDRESS, 5),
    (HOST_NAME, 4),
    (ACCOUNT_NAME, 3),
    (COMMAND_LINE, 4),
    (FILE_NAME, 2),
    (FILE_HASH, 1),
    (RESOURCE_ID, 2),
];

/// The skewed workload: alerts and rules drawn from the same pools, deterministically for a
/// seed.
///
/// About 530 alert types with a steep (Zipf, s = 1.1) popularity, so that a handful of types
/// carry most alerts and most rules; each alert carries two to five entities (IP address, host,
/// account, process command line, file, file hash, Azure resource) whose values come from small
/// per-field pools (800 values each, Zipf-drawn with s = 0.8, in mixed letter case). Each rule names one type
/// and one to three conditions: an `in` list of one to three pool values, or a `contains` of a
/// 3–10 character piece of a pool value with its case changed. At 100,000 rules an alert matches
/// dozens of rules.
///
/// ```
/// use vigil_testkit::generate::SkewedWorkload;
///
/// let mut w = SkewedWorkload::new(1);
/// let rules = w.rules(50);
/// assert!(rules.iter().all(|r| (1..=3).contains(&r.conditions.len())));
/// assert_eq!(w.alerts(5).len(), 5);
/// ```
#[derive(Clone, Debug)]
pub struct SkewedWorkload {
    rng: StdRng,
    alerts: u64,
    rules: u64,
}

impl SkewedWorkload {
    /// A workload generator; the same seed yields the same alerts and rules.
    pub fn new(seed: u64) -> SkewedWorkload {
        SkewedWorkload {
            rng: StdRng::seed_from_u64(seed ^ 0x5EED_5C3E_0000_0003),
            alerts: 0,
            rules: 0,
        }
    }

    /// The next `n` alerts.
    pub fn alerts(&mut self, n: usize) -> Vec<Alert> {
        (0..n).filter_map(|_| self.alert()).collect()
    }

    fn alert(&mut self) -> Option<Alert> {
        let w = skewed_world();
        let rng = &mut self.rng;
        self.alerts += 1;
        let id = AlertId::new(format!("skewed-{:08}", self.alerts)).ok()?;
        let at: DateTime<Utc> =
            reference_time() - Duration::seconds(rng.random_range(60..30 * 86_400));
        let ty = w.alert_type(rng).to_owned();
        let mut b = Alert::builder(id, ty, "Skewed workload alert", Severity::Medium, at);
        let n = rng.random_range(2..=5);
        let mut used: Vec<&str> = Vec::new();
        for _ in 0..n {
            let (field, _) = RULE_FIELDS[rng.random_range(0..RULE_FIELDS.len())];
            if used.contains(&field) {
                continue;
            }
            used.push(field);
            let v = w.draw(rng, field).to_owned();
            b = b.entity(match field {
                IP_ADDRESS => Entity::ip(v),
                HOST_NAME => Entity::host(v),
                ACCOUNT_NAME => Entity::account(v),
                COMMAND_LINE => Entity::process(v),
                FILE_NAME => Entity::file(v),
                FILE_HASH => Entity::file_hash("SHA256", v),
                _ => Entity::azure_resource(v),
            });
        }
        Some(b.build())
    }

    /// The next `n` rules: all enabled, none expiring.
    pub fn rules(&mut self, n: usize) -> Vec<RuleSpec> {
        (0..n).map(|_| self.rule()).collect()
    }

    fn rule(&mut self) -> RuleSpec {
        let w = skewed_world();
        let rng = &mut self.rng;
        self.rules += 1;
        let alert_type = w.alert_type(rng).to_owned();
        let n = match rng.random_range(0..100) {
            0..50 => 1,
            50..85 => 2,
            _ => 3,
        };
        let mut conditions = Vec::with_capacity(n);
        let mut used: Vec<&str> = Vec::new();
        while conditions.len() < n {
            let total: u32 = RULE_FIELDS.iter().map(|(_, w)| w).sum();
            let mut u = rng.random_range(0..total);
            let mut field = IP_ADDRESS;
            for (f, wt) in RULE_FIELDS {
                if u < wt {
                    field = f;
                    break;
                }
                u -= wt;
            }
            if used.contains(&field) {
                continue;
            }
            used.push(field);
            let exact_only = field == IP_ADDRESS || field == FILE_HASH;
            if exact_only || rng.random_bool(0.85) {
                let k = rng.random_range(1..=3);
                let mut vals: Vec<String> = Vec::with_capacity(k);
                for _ in 0..k {
                    let v = recase(w.draw(rng, field), rng.random_range(0..3));
                    if !vals.contains(&v) {
                        vals.push(v);
                    }
                }
                conditions.push(CondSpec::In(field.to_owned(), vals));
            } else {
                let v: Vec<char> = w.draw(rng, field).chars().collect();
                let len = rng.random_range(3..=10).min(v.len().max(1));
                let start = rng.random_range(0..=v.len().saturating_sub(len));
                let piece: String = v.iter().skip(start).take(len).collect();
                conditions.push(CondSpec::Contains(
                    field.to_owned(),
                    recase(&piece, rng.random_range(0..3)),
                ));
            }
        }
        RuleSpec {
            name: format!("skewed-{:07}", self.rules),
            alert_type,
            reason: "FalsePositive".to_owned(),
            state: RuleState::Enabled,
            expiration: None,
            comment: "Skewed workload".to_owned(),
            conditions,
        }
    }
}
