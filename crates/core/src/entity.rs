//! Alert entities: the hosts, accounts, IPs, processes, files, … an alert is about (see
//! [`Entity`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{Error, JsonMap};

macro_rules! kinds {
    ($( $(#[$m:meta])* $variant:ident => $name:literal ),* $(,)?) => {
        /// The kind of an [`Entity`], from its `type` property.
        ///
        /// Type names compare ignoring case, `-` and `_` (`azureresource` is
        /// [`EntityKind::AzureResource`], written `azure-resource`). Anything else is kept in
        /// [`EntityKind::Other`].
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum EntityKind {
            $( $(#[$m])* $variant, )*
            /// A type Vigil has no view for, kept verbatim.
            Other(String),
        }

        const KNOWN: &[(EntityKind, &str)] = &[ $( (EntityKind::$variant, $name), )* ];

        impl EntityKind {
            /// The canonical `type` value Defender writes (`"azure-resource"`), or the kept text
            /// of an [`EntityKind::Other`].
            pub fn type_name(&self) -> &str {
                match self {
                    $( EntityKind::$variant => $name, )*
                    EntityKind::Other(s) => s,
                }
            }
        }
    };
}

kinds! {
    /// A user or service account (`account`).
    Account => "account",
    /// Related alerts of an incident (`alerts`).
    Alerts => "alerts",
    /// An Azure resource (`azure-resource`).
    AzureResource => "azure-resource",
    /// An AWS resource (`amazon-resource`).
    AmazonResource => "amazon-resource",
    /// A Google Cloud resource (`gcp-resource`).
    GcpResource => "gcp-resource",
    /// A storage blob (`blob`).
    Blob => "blob",
    /// A storage blob container (`blob-container`).
    BlobContainer => "blob-container",
    /// A cloud application (`cloud-application`).
    CloudApplication => "cloud-application",
    /// A container (`container`).
    Container => "container",
    /// A container image (`container-image`).
    ContainerImage => "container-image",
    /// A container registry (`container-registry`).
    ContainerRegistry => "container-registry",
    /// A DNS resolution (`dns`).
    Dns => "dns",
    /// A file (`file`).
    File => "file",
    /// A file hash (`filehash`).
    FileHash => "filehash",
    /// A host (`host`).
    Host => "host",
    /// A logon session on a host (`host-logon-session`).
    HostLogonSession => "host-logon-session",
    /// An IoT device (`iotdevice`).
    IotDevice => "iotdevice",
    /// An IP address (`ip`).
    Ip => "ip",
    /// A Kubernetes cluster (`K8s-cluster`).
    K8sCluster => "K8s-cluster",
    /// A Kubernetes namespace (`K8s-namespace`).
    K8sNamespace => "K8s-namespace",
    /// A Kubernetes pod (`K8s-pod`).
    K8sPod => "K8s-pod",
    /// A Kubernetes deployment (`K8s-deployment`).
    K8sDeployment => "K8s-deployment",
    /// A Kubernetes replica set (`K8s-replicaset`).
    K8sReplicaSet => "K8s-replicaset",
    /// A Kubernetes stateful set (`K8s-statefulset`).
    K8sStatefulSet => "K8s-statefulset",
    /// A Kubernetes daemon set (`K8s-daemonset`).
    K8sDaemonSet => "K8s-daemonset",
    /// A Kubernetes job (`K8s-job`).
    K8sJob => "K8s-job",
    /// A Kubernetes cron job (`K8s-cronjob`).
    K8sCronJob => "K8s-cronjob",
    /// A Kubernetes service (`K8s-service`).
    K8sService => "K8s-service",
    /// A Kubernetes secret (`K8s-secret`).
    K8sSecret => "K8s-secret",
    /// A Kubernetes service account (`K8s-serviceaccount`).
    K8sServiceAccount => "K8s-serviceaccount",
    /// A mailbox (`mailbox`).
    Mailbox => "mailbox",
    /// Malware (`malware`).
    Malware => "malware",
    /// A network connection (`network-connection`).
    NetworkConnection => "network-connection",
    /// A process (`process`).
    Process => "process",
    /// A registry key (`registry-key`).
    RegistryKey => "registry-key",
    /// A registry value (`registry-value`).
    RegistryValue => "registry-value",
    /// A security group (`security-group`).
    SecurityGroup => "security-group",
    /// A URL (`url`).
    Url => "url",
}

/// Lower-cases and drops `-` and `_`: the form entity type names are compared in.
pub(crate) fn squash_type(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

impl EntityKind {
    /// The kind for a `type` value; unknown names become [`EntityKind::Other`] with the text
    /// kept as given.
    pub fn from_type_name(name: &str) -> EntityKind {
        let key = squash_type(name);
        KNOWN
            .iter()
            .find(|(_, n)| squash_type(n) == key)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| EntityKind::Other(name.to_owned()))
    }

    /// Every kind with a name of its own, in declaration order.
    pub fn known() -> impl Iterator<Item = &'static EntityKind> {
        KNOWN.iter().map(|(k, _)| k)
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

/// One entity of an alert: its kind and its properties, kept verbatim.
///
/// Defender models an entity as `{"type": …}` plus properties that depend on the type, and real
/// documents add keys the specification lacks (an IP's `location`, `$id`/`$ref` links between
/// entities, PascalCase or null values). Vigil therefore keeps every entity's JSON object
/// verbatim, in its original key order, and offers typed, read-only views for the common kinds
/// ([`Entity::as_ip`], [`Entity::as_host`], …). Property names are matched case-insensitively.
/// The properties include the `type` key as the document spelled it; [`Entity::kind`] is derived
/// from it.
///
/// ```
/// use vigil_core::{Entity, EntityKind, json};
///
/// let host = Entity::host("vm1").with("dnsDomain", "contoso.com").with_entity_id("1");
/// assert_eq!(host.kind(), &EntityKind::Host);
/// assert_eq!(host.as_host().and_then(|h| h.host_name()), Some("vm1"));
/// assert_eq!(host.get_str("DNSDOMAIN"), Some("contoso.com")); // case-insensitive
///
/// // Links between entities, and nested values.
/// let process = Entity::process("cmd.exe").with_ref("host", "1").with("args", json!(["/c", "dir"]));
/// assert_eq!(process.reference("host"), host.entity_id());
///
/// // Unknown kinds are kept as they are.
/// let odd = Entity::new(EntityKind::from_type_name("quantum-thing")).with("spin", 1);
/// assert_eq!(odd.kind().type_name(), "quantum-thing");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Entity {
    kind: EntityKind,
    properties: JsonMap,
}

impl Entity {
    /// A new entity of `kind` with only its `type` property.
    pub fn new(kind: EntityKind) -> Entity {
        let mut properties = JsonMap::new();
        properties.insert("type".into(), Value::String(kind.type_name().to_owned()));
        Entity { kind, properties }
    }

    /// Builds an entity from a JSON object, which must have a string `type` (any key case).
    pub fn from_json(properties: JsonMap) -> Result<Entity, Error> {
        let kind = match lookup(&properties, "type") {
            Some(Value::String(t)) if !t.trim().is_empty() => EntityKind::from_type_name(t),
            Some(other) => {
                return Err(Error::document(
                    "type",
                    format!(
                        "entity type must be a non-empty string, found {}",
                        kind_of(other)
                    ),
                ));
            }
            None => {
                return Err(Error::document(
                    "type",
                    "entity has no \"type\" property (expected e.g. \"ip\", \"host\", \"account\")",
                ));
            }
        };
        Ok(Entity { kind, properties })
    }

    /// Sets a property (replacing one whose name matches case-insensitively) and returns the
    /// entity, for building. Strings, numbers, booleans and [`Value`]s (from [`crate::json!`])
    /// all convert. Setting `type` to a string changes the [`Entity::kind`] to match.
    ///
    /// ```
    /// use vigil_core::{Entity, EntityKind, json};
    ///
    /// let host = Entity::host("vm1")
    ///     .with("osFamily", "Linux")
    ///     .with("isDomainJoined", false)
    ///     .with("tags", json!({"env": "prod"}));
    /// assert_eq!(host.get("tags").and_then(|t| t.get("env")), Some(&json!("prod")));
    /// assert_eq!(host.clone().with("type", "iotdevice").kind(), &EntityKind::IotDevice);
    /// ```
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Entity {
        let value = value.into();
        if key.eq_ignore_ascii_case("type")
            && let Value::String(t) = &value
            && !t.trim().is_empty()
        {
            self.kind = EntityKind::from_type_name(t);
        }
        set_loose(&mut self.properties, key, value);
        self
    }

    /// Gives the entity an `$id`, by which other entities of the same alert refer to it
    /// ([`Entity::with_ref`]).
    ///
    /// ```
    /// use vigil_core::Entity;
    ///
    /// let host = Entity::host("vm1").with_entity_id("1");
    /// assert_eq!(host.entity_id(), Some("1"));
    /// ```
    pub fn with_entity_id(self, id: impl Into<String>) -> Entity {
        self.with("$id", id.into())
    }

    /// Sets property `key` to a link to the entity whose `$id` is `target`: `{"$ref": target}`,
    /// as Defender writes a process's `host` or a file's `host`. [`crate::Alert::follow`] finds
    /// the linked entity.
    ///
    /// ```
    /// use vigil_core::{Entity, json};
    ///
    /// let process = Entity::process("powershell.exe -enc SQBFAFgA").with_ref("host", "1");
    /// assert_eq!(process.get("host"), Some(&json!({"$ref": "1"})));
    /// assert_eq!(process.reference("host"), Some("1"));
    /// ```
    pub fn with_ref(self, key: &str, target: impl Into<String>) -> Entity {
        let mut link = JsonMap::new();
        link.insert("$ref".into(), Value::String(target.into()));
        self.with(key, Value::Object(link))
    }

    /// The `$ref` of property `key`, when that property is a link `{"$ref": …}` to another
    /// entity.
    pub fn reference(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::Object(link) => lookup(link, "$ref").and_then(Value::as_str),
            _ => None,
        }
    }

    /// An `ip` entity.
    pub fn ip(address: impl Into<String>) -> Entity {
        Entity::new(EntityKind::Ip).with("address", address.into())
    }

    /// A `host` entity.
    pub fn host(host_name: impl Into<String>) -> Entity {
        Entity::new(EntityKind::Host).with("hostName", host_name.into())
    }

    /// An `account` entity.
    pub fn account(name: impl Into<String>) -> Entity {
        Entity::new(EntityKind::Account).with("name", name.into())
    }

    /// A `process` entity with its command line.
    pub fn process(command_line: impl Into<String>) -> Entity {
        Entity::new(EntityKind::Process).with("commandLine", command_line.into())
    }

    /// A `file` entity.
    pub fn file(name: impl Into<String>) -> Entity {
        Entity::new(EntityKind::File).with("name", name.into())
    }

    /// A `filehash` entity.
    pub fn file_hash(algorithm: impl Into<String>, value: impl Into<String>) -> Entity {
        Entity::new(EntityKind::FileHash)
            .with("algorithm", algorithm.into())
            .with("value", value.into())
    }

    /// An `azure-resource` entity.
    pub fn azure_resource(resource_id: impl Into<String>) -> Entity {
        Entity::new(EntityKind::AzureResource).with("resourceId", resource_id.into())
    }

    /// A `dns` entity.
    pub fn dns(domain_name: impl Into<String>) -> Entity {
        Entity::new(EntityKind::Dns).with("domainName", domain_name.into())
    }

    /// A `url` entity.
    pub fn url(url: impl Into<String>) -> Entity {
        Entity::new(EntityKind::Url).with("url", url.into())
    }

    /// A `malware` entity.
    pub fn malware(name: impl Into<String>, category: impl Into<String>) -> Entity {
        Entity::new(EntityKind::Malware)
            .with("name", name.into())
            .with("category", category.into())
    }

    /// A `network-connection` entity: source and destination address and port, and the
    /// protocol (`TCP`, `UDP`, …), in Defender's keys `sourceAddress`, `sourcePort`,
    /// `destinationAddress`, `destinationPort` (ports as numbers) and `protocol`.
    ///
    /// ```
    /// use vigil_core::Entity;
    ///
    /// let c = Entity::network_connection("10.0.0.4:49152".parse()?, "203.0.113.9:443".parse()?, "TCP");
    /// let view = c.as_network_connection().unwrap();
    /// assert_eq!(view.source_address(), Some("10.0.0.4".parse()?));
    /// assert_eq!(view.destination_port(), Some(443));
    /// assert_eq!(view.protocol(), Some("TCP"));
    /// assert_eq!(c.get("sourcePort"), Some(&vigil_core::json!(49152)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn network_connection(
        source: SocketAddr,
        destination: SocketAddr,
        protocol: impl Into<String>,
    ) -> Entity {
        Entity::new(EntityKind::NetworkConnection)
            .with("sourceAddress", source.ip().to_string())
            .with("sourcePort", source.port())
            .with("destinationAddress", destination.ip().to_string())
            .with("destinationPort", destination.port())
            .with("protocol", protocol.into())
    }

    /// A `mailbox` entity.
    pub fn mailbox(primary_address: impl Into<String>) -> Entity {
        Entity::new(EntityKind::Mailbox).with("mailboxPrimaryAddress", primary_address.into())
    }

    /// The entity's kind.
    pub fn kind(&self) -> &EntityKind {
        &self.kind
    }

    /// All properties, verbatim, including `type`.
    pub fn properties(&self) -> &JsonMap {
        &self.properties
    }

    /// A property by name, matched case-insensitively.
    pub fn get(&self, key: &str) -> Option<&Value> {
        lookup(&self.properties, key)
    }

    /// A string property by name, matched case-insensitively; `None` if absent or not a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// The entity's `$id`, by which other entities of the same alert refer to it.
    pub fn entity_id(&self) -> Option<&str> {
        self.get_str("$id")
    }

    /// The first string property that names this entity for a person: the kind's identifying
    /// property (address, host name, account name, command line, …) if present.
    pub fn display_value(&self) -> Option<&str> {
        const KEYS: &[&str] = &[
            "address",
            "hostName",
            "name",
            "commandLine",
            "resourceId",
            "value",
            "domainName",
            "url",
            "mailboxPrimaryAddress",
            "fullPath",
            "displayName",
            "imageName",
        ];
        KEYS.iter().find_map(|k| self.get_str(k))
    }
}

/// Sets `key` in `map`, replacing the value of a key that matches it case-insensitively (and
/// keeping that key's spelling and position).
pub(crate) fn set_loose(map: &mut JsonMap, key: &str, value: Value) {
    let existing = map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned();
    map.insert(existing.unwrap_or_else(|| key.to_owned()), value);
}

pub(crate) fn lookup<'a>(map: &'a JsonMap, key: &str) -> Option<&'a Value> {
    // Entity and property maps are small: a scan beats hashing, and it finds any key case.
    if map.len() > 16
        && let Some(v) = map.get(key)
    {
        return Some(v);
    }
    let mut loose = None;
    for (k, v) in map {
        if k == key {
            return Some(v);
        }
        if loose.is_none() && k.eq_ignore_ascii_case(key) {
            loose = Some(v);
        }
    }
    loose
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Serialize for Entity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.properties.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Entity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = JsonMap::deserialize(d)?;
        Entity::from_json(map).map_err(serde::de::Error::custom)
    }
}

macro_rules! views {
    ($(
        $(#[$m:meta])*
        $view:ident, $kind:ident, $as_fn:ident {
            $( $field:ident => $key:literal ),* $(,)?
        }
    )*) => {$(
        $(#[$m])*
        #[derive(Clone, Copy, Debug)]
        pub struct $view<'a>(&'a Entity);

        impl<'a> $view<'a> {
            /// The entity behind this view, for properties the view has no method for.
            pub fn entity(self) -> &'a Entity {
                self.0
            }
            $(
                #[doc = concat!("The `", $key, "` property, if present as a string.")]
                pub fn $field(self) -> Option<&'a str> {
                    self.0.get_str($key)
                }
            )*
        }

        impl Entity {
            #[doc = concat!("A typed view if this is a `", stringify!($kind), "` entity.")]
            pub fn $as_fn(&self) -> Option<$view<'_>> {
                (self.kind == EntityKind::$kind).then_some($view(self))
            }
        }
    )*};
}

views! {
    /// View of an `ip` entity. See also [`IpEntity::address`].
    IpEntity, Ip, as_ip { address_str => "address" }
    /// View of a `host` entity.
    HostEntity, Host, as_host {
        host_name => "hostName", dns_domain => "dnsDomain", nt_domain => "ntDomain",
        net_bios_name => "netBiosName", azure_id => "azureID", oms_agent_id => "omsAgentID",
        os_family => "osFamily", os_version => "osVersion",
    }
    /// View of an `account` entity.
    AccountEntity, Account, as_account {
        name => "name", nt_domain => "ntDomain", dns_domain => "dnsDomain",
        upn_suffix => "upnSuffix", sid => "sid", aad_tenant_id => "aadTenantId",
        aad_user_id => "aadUserId", display_name => "displayName",
    }
    /// View of a `process` entity.
    ProcessEntity, Process, as_process {
        command_line => "commandLine", process_id => "processId",
        creation_time_utc => "creationTimeUtc", elevation_token => "elevationToken",
    }
    /// View of a `file` entity.
    FileEntity, File, as_file { name => "name", directory => "directory", full_path => "fullPath" }
    /// View of a `filehash` entity.
    FileHashEntity, FileHash, as_file_hash { value => "value" }
    /// View of an `azure-resource` entity.
    AzureResourceEntity, AzureResource, as_azure_resource { resource_id => "resourceId", resource_name => "resourceName" }
    /// View of a `dns` entity.
    DnsEntity, Dns, as_dns { domain_name => "domainName" }
    /// View of a `url` entity.
    UrlEntity, Url, as_url { url => "url" }
    /// View of a `malware` entity.
    MalwareEntity, Malware, as_malware { name => "name", category => "category" }
    /// View of a `mailbox` entity.
    MailboxEntity, Mailbox, as_mailbox {
        primary_address => "mailboxPrimaryAddress", display_name => "displayName", upn => "upn",
    }
    /// View of a `K8s-cluster` entity.
    K8sClusterEntity, K8sCluster, as_k8s_cluster { name => "name", cloud_resource => "cloudResource" }
    /// View of a `K8s-namespace` entity.
    K8sNamespaceEntity, K8sNamespace, as_k8s_namespace { name => "name" }
    /// View of a `K8s-pod` entity.
    K8sPodEntity, K8sPod, as_k8s_pod { name => "name" }
    /// View of a `container` entity.
    ContainerEntity, Container, as_container { name => "name", container_id => "containerId" }
    /// View of a `container-image` entity.
    ContainerImageEntity, ContainerImage, as_container_image { image_id => "imageId" }
    /// View of a `network-connection` entity; see also the parsed accessors
    /// ([`NetworkConnectionEntity::source_address`], …).
    NetworkConnectionEntity, NetworkConnection, as_network_connection {
        source_address_str => "sourceAddress", destination_address_str => "destinationAddress",
        protocol => "protocol",
    }
}

impl NetworkConnectionEntity<'_> {
    /// `sourceAddress`, parsed; `None` if absent or not an IPv4/IPv6 address.
    pub fn source_address(self) -> Option<IpAddr> {
        self.source_address_str()
            .and_then(|a| a.trim().parse().ok())
    }

    /// `destinationAddress`, parsed; `None` if absent or not an IPv4/IPv6 address.
    pub fn destination_address(self) -> Option<IpAddr> {
        self.destination_address_str()
            .and_then(|a| a.trim().parse().ok())
    }

    /// `sourcePort`, as a number or a numeric string; `None` if absent or not a port.
    pub fn source_port(self) -> Option<u16> {
        port(self.0.get("sourcePort"))
    }

    /// `destinationPort`, as a number or a numeric string; `None` if absent or not a port.
    pub fn destination_port(self) -> Option<u16> {
        port(self.0.get("destinationPort"))
    }
}

fn port(v: Option<&Value>) -> Option<u16> {
    match v? {
        Value::Number(n) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl IpEntity<'_> {
    /// The address, parsed; `None` if absent or not a valid IPv4/IPv6 address.
    pub fn address(self) -> Option<IpAddr> {
        self.address_str().and_then(|a| a.trim().parse().ok())
    }
}

impl<'a> FileHashEntity<'a> {
    /// The hash algorithm (`SHA256`, …), under either name documents use: `algorithm` or
    /// `fileHashAlgorithm`.
    pub fn algorithm(self) -> Option<&'a str> {
        self.0
            .get_str("algorithm")
            .or_else(|| self.0.get_str("fileHashAlgorithm"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn type_names_compare_ignoring_case_and_dashes() {
        assert_eq!(
            EntityKind::from_type_name("azureresource"),
            EntityKind::AzureResource
        );
        assert_eq!(
            EntityKind::from_type_name("Azure-Resource"),
            EntityKind::AzureResource
        );
        assert_eq!(EntityKind::from_type_name("k8s-pod"), EntityKind::K8sPod);
        assert_eq!(EntityKind::from_type_name("FileHash"), EntityKind::FileHash);
        assert_eq!(
            EntityKind::from_type_name("brand-new"),
            EntityKind::Other("brand-new".into())
        );
    }

    #[test]
    fn unknown_properties_and_nulls_are_kept_in_order() {
        let map =
            json!({"OsVersion": null, "hostName": "vm1", "type": "host", "extra": {"a": [1, 2]}});
        let Value::Object(map) = map else {
            unreachable!()
        };
        let e = Entity::from_json(map.clone()).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(e.properties(), &map);
        let keys: Vec<&str> = e.properties().keys().map(String::as_str).collect();
        assert_eq!(keys, ["OsVersion", "hostName", "type", "extra"]);
        assert_eq!(e.as_host().and_then(|h| h.host_name()), Some("vm1"));
        assert_eq!(e.as_host().and_then(|h| h.os_version()), None);
        assert!(e.as_ip().is_none());
    }

    #[test]
    fn ip_view_parses_v4_and_v6() {
        assert_eq!(
            Entity::ip("2001:db8::1").as_ip().and_then(|i| i.address()),
            "2001:db8::1".parse().ok()
        );
        assert_eq!(
            Entity::ip("not an ip").as_ip().and_then(|i| i.address()),
            None
        );
    }

    #[test]
    fn type_is_required() {
        let Value::Object(map) = json!({"address": "10.0.0.1"}) else {
            unreachable!()
        };
        assert!(Entity::from_json(map).is_err());
        let Value::Object(map) = json!({"type": 3}) else {
            unreachable!()
        };
        assert!(Entity::from_json(map).is_err());
    }

    #[test]
    fn network_connection_writes_ports_as_numbers_and_reads_them_back() {
        let c = Entity::network_connection(
            "[2001:db8::1]:5000"
                .parse()
                .unwrap_or_else(|e| unreachable!("{e}")),
            "192.0.2.7:53"
                .parse()
                .unwrap_or_else(|e| unreachable!("{e}")),
            "UDP",
        );
        assert_eq!(
            Value::Object(c.properties().clone()),
            json!({"type": "network-connection", "sourceAddress": "2001:db8::1", "sourcePort": 5000,
                   "destinationAddress": "192.0.2.7", "destinationPort": 53, "protocol": "UDP"})
        );
        let Value::Object(m) = json!({"type": "network-connection", "SourcePort": "8080",
                                      "destinationPort": 70000})
        else {
            unreachable!()
        };
        let e = Entity::from_json(m).unwrap_or_else(|e| unreachable!("{e}"));
        let v = e.as_network_connection();
        assert_eq!(v.and_then(|v| v.source_port()), Some(8080));
        assert_eq!(v.and_then(|v| v.destination_port()), None, "not a port");
        assert_eq!(v.and_then(|v| v.source_address()), None);
    }

    #[test]
    fn reference_reads_only_links() {
        let e = Entity::process("x")
            .with_ref("host", "7")
            .with("account", "bob");
        assert_eq!(e.reference("HOST"), Some("7"));
        assert_eq!(e.reference("account"), None);
        assert_eq!(e.reference("missing"), None);
    }

    #[test]
    fn with_replaces_case_insensitively() {
        let e = Entity::host("a").with("HOSTNAME", "b");
        assert_eq!(e.properties().len(), 2);
        assert_eq!(e.get_str("hostName"), Some("b"));
    }
}
