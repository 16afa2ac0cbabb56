//! The suite's own small deterministic generator of varied alerts and rules (independent of the
//! crate's public generators, so the suite's inputs never change under it).

use chrono::Duration;
use vigil_core::attack::TechniqueId;
use vigil_core::suppression::{
    Condition, EntityAbsence, RuleState, SuppressionReason, SuppressionRule,
};
use vigil_core::{Alert, Entity, KillChainIntent, ResourceIdentifier, Severity, Status};

use super::support::{at, base, id};

/// SplitMix64: tiny, fast, and the same on every platform.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `true` with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

pub(crate) const TYPES: &[(&str, &str)] = &[
    ("VM_EICAR", "EICAR test file detected"),
    (
        "VM_SuspiciousPowerShellCommandLine",
        "Suspicious PowerShell command line",
    ),
    (
        "Storage.Blob_AnonymousAccessAnomaly",
        "Anonymous access to a storage account",
    ),
    ("SQL.DB_BruteForce", "Brute force attack on SQL server"),
    ("K8S_PrivilegedContainer", "Privileged container detected"),
    ("AppServices_WebShell", "Web shell detected on App Service"),
];

pub(crate) const PRODUCTS: &[&str] = &["Microsoft Defender for Cloud", "Azure Security Center"];

pub(crate) const SUBSCRIPTIONS: &[&str] = &[
    "/subscriptions/4c5f1a2e-0001",
    "/subscriptions/4c5f1a2e-0002",
    "/subscriptions/9d3b1e2a-0003",
];

pub(crate) const GROUPS: &[&str] = &["prod-web", "Prod-DB", "test"];

pub(crate) const HOSTS: &[&str] = &[
    "web-01",
    "WEB-02",
    "db-01",
    "build-agent-3",
    "test-vm7",
    "jump-host",
];

pub(crate) const ACCOUNTS: &[&str] = &["alice", "svc-backup", "Administrator", "bob@contoso.com"];

pub(crate) const TECHNIQUES: &[&str] = &[
    "T1059",
    "T1059.001",
    "T1110",
    "T1110.003",
    "T1078.004",
    "T1190",
];

fn intents() -> Vec<KillChainIntent> {
    vec![
        KillChainIntent::PreAttack,
        KillChainIntent::InitialAccess,
        KillChainIntent::Execution,
        KillChainIntent::CredentialAccess,
        KillChainIntent::DefenseEvasion,
        KillChainIntent::Exfiltration,
        KillChainIntent::Impact,
        KillChainIntent::Probing,
        KillChainIntent::Other("Reconnaissance".into()),
    ]
}

/// An ARM id of a virtual machine.
pub(crate) fn vm_resource(sub: &str, group: &str, vm: &str) -> String {
    format!("{sub}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{vm}")
}

/// `n` varied alerts with ids `<prefix>-<i>`, generated before the base time. With
/// `mixed_status`, some start InProgress, Resolved or Dismissed; otherwise all are Active.
pub(crate) fn alerts(seed: u64, n: usize, prefix: &str, mixed_status: bool) -> Vec<Alert> {
    let mut r = Rng::new(seed);
    let intents = intents();
    (0..n)
        .map(|i| {
            let (alert_type, display) = *r.pick(TYPES);
            let severity = *r.pick(&Severity::ALL);
            // A narrow time range makes equal times (ties) common.
            let mut time = base() - Duration::minutes(r.below(1500) as i64 + 1);
            if r.chance(30) {
                time += Duration::nanoseconds((r.below(10_000_000) * 100) as i64);
            }
            let host = *r.pick(HOSTS);
            let mut b = Alert::builder(
                id(&format!("{prefix}-{i:04}")),
                alert_type,
                format!("{display} on {host}"),
                severity,
                time,
            )
            .description(format!("Generated alert {i} of type {alert_type}."))
            .entity(Entity::host(host))
            .entity(Entity::ip(format!(
                "10.0.{}.{}",
                r.below(3),
                r.below(6) + 1
            )));
            if r.chance(80) {
                b = b.product_name(*r.pick(PRODUCTS));
            }
            for _ in 0..r.below(3) {
                b = b.intent(r.pick(&intents).clone());
            }
            if r.chance(60) {
                let tech: TechniqueId = r.pick(TECHNIQUES).parse().unwrap();
                b = b.technique(tech);
            }
            if r.chance(40) {
                b = b.entity(Entity::account(*r.pick(ACCOUNTS)));
            }
            if r.chance(25) {
                b = b.entity(Entity::process(format!(
                    "powershell.exe -enc {}",
                    r.below(1000)
                )));
            }
            let (sub, group) = (r.pick::<&str>(SUBSCRIPTIONS), r.pick::<&str>(GROUPS));
            let resource = vm_resource(sub, group, host);
            match r.below(3) {
                0 => b = b.resource_identifier(ResourceIdentifier::azure_resource(resource)),
                1 => b = b.entity(Entity::azure_resource(resource.to_uppercase())),
                _ => {}
            }
            if r.chance(50) {
                b = b.correlation_key(format!("ck-{}", r.below(8)));
            }
            if r.chance(50) {
                b = b.compromised_entity(host);
            }
            if mixed_status {
                b = b.status(match r.below(10) {
                    0 | 1 => Status::InProgress,
                    2 | 3 => Status::Resolved,
                    4 => Status::Dismissed,
                    _ => Status::Active,
                });
            }
            b.build()
        })
        .collect()
}

/// `n` rules named `gen-<seed>-<i>` over the values [`alerts`] uses: specific and `*` types,
/// several operators, some disabled, some expired at `at(0)`, some expiring later, some with
/// `whenEntityAbsent: match`.
pub(crate) fn rules(seed: u64, n: usize) -> Vec<SuppressionRule> {
    let mut r = Rng::new(seed.wrapping_mul(31).wrapping_add(7));
    let reasons = [
        SuppressionReason::FalsePositive,
        SuppressionReason::Noise,
        SuppressionReason::SpecificEntityFalsePositive,
        SuppressionReason::Other("BenignPositive".into()),
    ];
    (0..n)
        .map(|i| {
            let alert_type = if r.chance(25) { "*" } else { r.pick(TYPES).0 };
            let mut b = SuppressionRule::builder(
                format!("gen-{seed}-{i}"),
                alert_type,
                r.pick(&reasons).clone(),
            );
            let condition = match r.below(8) {
                0 => Condition::is_in("entities.host.hostname", [*r.pick(HOSTS), *r.pick(HOSTS)]),
                1 => Condition::starts_with("entities.host.hostname", "test-"),
                2 => Condition::cidr("entities.ip.address", format!("10.0.{}.0/30", r.below(3))),
                3 => Condition::equals("severity", r.pick(&Severity::ALL).as_str()),
                4 => Condition::contains("entities.account.name", "svc"),
                5 => Condition::starts_with(
                    "resourceIdentifiers.azureResourceId",
                    r.pick(SUBSCRIPTIONS).to_string(),
                ),
                6 => Condition::equals("correlationKey", format!("ck-{}", r.below(8))),
                _ => Condition::wildcard("alertDisplayName", format!("*{}*", r.pick(HOSTS))),
            };
            b = b.condition(condition);
            if r.chance(20) {
                b = b.condition(Condition::negate(Condition::equals(
                    "entities.ip.address",
                    format!("10.0.{}.{}", r.below(3), r.below(6) + 1),
                )));
            }
            match r.below(10) {
                0 => b = b.state(RuleState::Disabled),
                1 => b = b.expires_at(at(0)),
                2 => b = b.expires_at(at(-3600)),
                3 => b = b.expires_at(at(3600)),
                _ => {}
            }
            if r.chance(15) {
                b = b.when_entity_absent(EntityAbsence::Match);
            }
            b.build()
        })
        .collect()
}
