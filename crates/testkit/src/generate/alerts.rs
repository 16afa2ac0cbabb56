//! Defender-like alerts.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vigil_core::{Alert, AlertId, Entity, KillChainIntent, ResourceIdentifier, Severity};

use super::reference_time;
use super::world::{Family, Host, world};

/// Generates realistic Defender for Cloud alerts, deterministically for a seed.
///
/// Each alert has an alert type drawn with a Zipf-like skew from about 300 types, a severity,
/// one or two kill-chain intents, start, end, generated and processing times in the 30 days
/// before [`super::reference_time`], one to six entities that fit the alert's plan (IP addresses,
/// mostly IPv4; hosts; accounts; processes with 40–200 character command lines; files; Azure
/// resources), a compromised entity, a resource identifier and a few extended properties. System
/// alert ids are unique per generator.
///
/// ```
/// use vigil_testkit::generate::AlertGenerator;
///
/// let a = AlertGenerator::new(1).alerts(10);
/// let b = AlertGenerator::new(1).alerts(10);
/// assert_eq!(a, b); // same seed, same alerts
/// assert!(a.iter().all(|x| (1..=6).contains(&x.entities().len())));
/// ```
#[derive(Clone, Debug)]
pub struct AlertGenerator {
    rng: StdRng,
    seed: u64,
    count: u64,
}

const INTENTS: [KillChainIntent; 12] = [
    KillChainIntent::PreAttack,
    KillChainIntent::InitialAccess,
    KillChainIntent::Persistence,
    KillChainIntent::PrivilegeEscalation,
    KillChainIntent::DefenseEvasion,
    KillChainIntent::CredentialAccess,
    KillChainIntent::Discovery,
    KillChainIntent::LateralMovement,
    KillChainIntent::Execution,
    KillChainIntent::Collection,
    KillChainIntent::Exfiltration,
    KillChainIntent::CommandAndControl,
];

/// Which kinds of entity an alert of a family carries, with weights.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    Ip,
    Host,
    Account,
    Process,
    File,
    Resource,
}

fn kinds(family: Family) -> (Kind, &'static [(Kind, u32)]) {
    use Kind::*;
    match family {
        Family::Vm => (
            Host,
            &[
                (Ip, 3),
                (Account, 2),
                (Process, 3),
                (File, 2),
                (Resource, 1),
            ],
        ),
        Family::K8s => (
            Resource,
            &[(Host, 2), (Process, 3), (Ip, 2), (Account, 1), (File, 1)],
        ),
        Family::Sql => (Resource, &[(Ip, 4), (Account, 3), (Host, 1)]),
        Family::Storage => (Resource, &[(Ip, 4), (File, 2), (Account, 1)]),
        Family::Arm => (Resource, &[(Ip, 3), (Account, 4)]),
        Family::KeyVault => (Resource, &[(Ip, 3), (Account, 3)]),
        Family::Dns => (Host, &[(Ip, 4), (Resource, 1), (Process, 1)]),
        Family::AppServices => (Resource, &[(Ip, 4), (Process, 2), (File, 2), (Host, 1)]),
    }
}

fn weighted<T: Copy>(rng: &mut impl Rng, items: &[(T, u32)]) -> Option<T> {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut u = rng.random_range(0..total.max(1));
    for (item, w) in items {
        if u < *w {
            return Some(*item);
        }
        u -= w;
    }
    items.last().map(|(i, _)| *i)
}

impl AlertGenerator {
    /// A generator; the same seed always yields the same sequence of alerts.
    pub fn new(seed: u64) -> AlertGenerator {
        AlertGenerator {
            rng: StdRng::seed_from_u64(seed ^ 0xA1E7_0000_0000_0001),
            seed,
            count: 0,
        }
    }

    /// The next `n` alerts.
    pub fn alerts(&mut self, n: usize) -> Vec<Alert> {
        (0..n).map(|_| self.alert()).collect()
    }

    /// The next alert.
    pub fn alert(&mut self) -> Alert {
        let w = world();
        let rng = &mut self.rng;
        let ty = w.alert_types.draw(rng);
        let family = ty.family;

        // Defender's systemAlertId: a reversed-ticks number and a GUID-like suffix. The counter
        // makes it unique for this generator; the seed goes into the suffix.
        self.count += 1;
        let ticks = 2_517_538_088_322_968_242u64.wrapping_sub(self.count * 7_919);
        let id_text = format!(
            "{ticks}_{:08x}-{:04x}-{:04x}",
            rng.random::<u32>(),
            (self.seed & 0xFFFF) as u16,
            (self.count & 0xFFFF) as u16
        );
        let Ok(id) = AlertId::new(id_text) else {
            unreachable!("a non-blank alert id is always accepted")
        };

        let generated: DateTime<Utc> =
            reference_time() - Duration::seconds(rng.random_range(60..30 * 86_400));
        let start = generated - Duration::seconds(rng.random_range(60..7_200));
        let end = generated - Duration::seconds(rng.random_range(0..60));
        let processed = generated + Duration::seconds(rng.random_range(1..600));
        let severity = match rng.random_range(0..100) {
            0..10 => Severity::Informational,
            10..45 => Severity::Low,
            45..80 => Severity::Medium,
            _ => Severity::High,
        };

        let mut b = Alert::builder(id, &ty.name, &ty.display_name, severity, generated)
            .start_time(start)
            .end_time(end)
            .processing_end_time(processed)
            .product_name("Microsoft Defender for Cloud")
            .vendor_name("Microsoft")
            .product_component_name(family.component())
            .version("2022-01-01.0")
            .description(format!(
                "{} was detected by Microsoft Defender for {}.",
                ty.display_name,
                family.component()
            ));
        let first_intent = rng.random_range(0..INTENTS.len());
        b = b.intent(INTENTS[first_intent].clone());
        if rng.random_bool(0.2) {
            let second = rng.random_range(0..INTENTS.len());
            if second != first_intent {
                b = b.intent(INTENTS[second].clone());
            }
        }

        // Entities: the family's main one first, then others of the family's kinds.
        let (first, rest) = kinds(family);
        let n = match rng.random_range(0..100) {
            0..10 => 1,
            10..35 => 2,
            35..65 => 3,
            65..85 => 4,
            85..95 => 5,
            _ => 6,
        };
        let host: &Host = w.hosts.draw(rng);
        let resource = match family {
            Family::Vm => host.resource_id.clone(),
            _ => w.resources_of(family).draw(rng).clone(),
        };
        let compromised = match family {
            Family::Vm | Family::Dns => host.name.clone(),
            _ => resource.rsplit('/').next().unwrap_or_default().to_owned(),
        };
        let mut entity_kinds = vec![first];
        for _ in 1..n {
            if let Some(k) = weighted(rng, rest) {
                entity_kinds.push(k);
            }
        }
        let mut first_ip = None;
        for (i, kind) in entity_kinds.into_iter().enumerate() {
            let entity = match kind {
                Kind::Ip => {
                    let ip = w.ips.draw(rng).clone();
                    first_ip.get_or_insert_with(|| ip.clone());
                    Entity::ip(ip)
                }
                Kind::Host => {
                    // The first host is the alerted one; later ones are peers.
                    let h = if i == 0 { host } else { w.hosts.draw(rng) };
                    Entity::host(&h.name)
                        .with("dnsDomain", "contoso.local")
                        .with("osFamily", if h.windows { "Windows" } else { "Linux" })
                        .with("azureID", h.resource_id.as_str())
                }
                Kind::Account => {
                    let name = w.accounts.draw(rng).clone();
                    Entity::account(name).with("ntDomain", "CONTOSO")
                }
                Kind::Process => Entity::process(w.command_lines.draw(rng).as_str()).with(
                    "processId",
                    format!("0x{:x}", rng.random_range(0x100..0xFFFFu32)),
                ),
                Kind::File => {
                    let (name, dir) = w.files.draw(rng);
                    Entity::file(name.as_str()).with("directory", dir.as_str())
                }
                Kind::Resource => {
                    let id = if i == 0 {
                        resource.clone()
                    } else {
                        w.resources_of(family).draw(rng).clone()
                    };
                    Entity::azure_resource(id)
                }
            };
            b = b.entity(entity.with("$id", (i + 1).to_string()));
        }

        b = b
            .compromised_entity(compromised)
            .resource_identifier(ResourceIdentifier::azure_resource(resource))
            .extended_property("resourceType", family.resource_type())
            .extended_property(
                "Investigation steps",
                "Review the activity of the entities in the alert and dismiss it if benign.",
            );
        if first_ip.is_some() {
            b = b.extended_property("Client Location", *w.locations.draw(rng));
        }
        if rng.random_bool(0.3) {
            b = b.extended_property("Account Session Id", format!("0x{:x}", rng.random::<u32>()));
        }
        b.build()
    }
}
