using System;
using System.Collections.Generic;

namespace QemuGuest.Relay.Configuration;

// The relay's configuration, bound from the "Relay" section of the JSON config file
// (default /etc/qemuguest/relay.json, or --config PATH). Validated once at start by
// RelayOptionsValidator; see docs/relay.md for the format and every default.

/// <summary>Root of the relay configuration.</summary>
public sealed class RelayOptions
{
    public const string SectionName = "Relay";

    /// <summary>Where the per-VM sockets and control.sock live (created 0700; sockets 0600).</summary>
    public string RuntimeDirectory { get; set; } = OperatingSystem.IsWindows() ? "" : "/run/qemuguest-relay";

    /// <summary>VMs named explicitly: name → agent channel (and optional QMP socket).</summary>
    public Dictionary<string, VmOptions> Vms { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Finding VMs by the common socket layouts; all off by default.</summary>
    public DiscoveryOptions Discovery { get; set; } = new();

    /// <summary>
    /// The management endpoints every VM gets unless the VM lists its own. Default: one
    /// unrestricted endpoint named "" (socket &lt;vm&gt;.sock).
    /// </summary>
    public List<EndpointOptions> Endpoints { get; set; } = new();

    /// <summary>Named command policies endpoints refer to. "read-only" and "no-exec" are built in (and may be overridden).</summary>
    public Dictionary<string, PolicyOptions> Policies { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Bounds on guest bytes, queues and waits.</summary>
    public LimitOptions Limits { get; set; } = new();

    /// <summary>Serve the control endpoint (control.sock) in the runtime directory.</summary>
    public bool ControlEndpoint { get; set; } = true;
}

/// <summary>One VM.</summary>
public sealed class VmOptions
{
    /// <summary>
    /// The agent chardev: a unix socket path (QEMU <c>-chardev socket,path=...,server=on</c>),
    /// or <c>tcp:HOST:PORT</c>.
    /// </summary>
    public string Agent { get; set; } = "";

    /// <summary>Optional QMP socket of the same VM, to follow the agent port opening and closing.</summary>
    public string? Qmp { get; set; }

    /// <summary>The virtserialport device id VSERPORT_CHANGE names (libvirt: channel0, Proxmox: qga0).</summary>
    public string? QmpPort { get; set; }

    /// <summary>Endpoints of this VM; when empty, <see cref="RelayOptions.Endpoints"/>.</summary>
    public List<EndpointOptions> Endpoints { get; set; } = new();
}

/// <summary>A management endpoint of a VM.</summary>
public sealed class EndpointOptions
{
    /// <summary>"" → &lt;vm&gt;.sock; "ro" → &lt;vm&gt;.ro.sock (named pipe qemuguest-relay-&lt;vm&gt;[.name] on Windows).</summary>
    public string Name { get; set; } = "";

    /// <summary>A policy name from <see cref="RelayOptions.Policies"/>; empty means every schema command.</summary>
    public string? Policy { get; set; }

    /// <summary>Also listen on TCP at HOST:PORT (per-VM endpoints only). Loopback unless <see cref="AllowRemote"/>.</summary>
    public string? Tcp { get; set; }

    /// <summary>Permit a non-loopback <see cref="Tcp"/> address. The protocol has no authentication.</summary>
    public bool AllowRemote { get; set; }

    /// <summary>Do not create the unix socket / named pipe (TCP only).</summary>
    public bool NoSocket { get; set; }

    /// <summary>
    /// Permit a <see cref="Tcp"/> endpoint without a <see cref="Policy"/>. A TCP port has no file
    /// permissions: every local user (and, with <see cref="AllowRemote"/>, the network) could
    /// run any command as the guest agent, so this is refused unless meant, and warned about at start.
    /// </summary>
    public bool AllowUnrestricted { get; set; }
}

/// <summary>
/// Allow then deny (deny wins). Entries are command names, prefixes ending in '*', or '@class'
/// (a capability class of the schema); see <see cref="QemuGuest.Protocol.Validation.CommandRules"/>.
/// </summary>
public sealed class PolicyOptions
{
    /// <summary>Empty = everything the schema declares.</summary>
    public List<string> Allow { get; set; } = new();

    public List<string> Deny { get; set; } = new();
}

public sealed class DiscoveryOptions
{
    /// <summary>Directories whose *.sock / *.qga sockets are agent channels named after the file.</summary>
    public List<string> Directories { get; set; } = new();

    /// <summary>Proxmox: &lt;ProxmoxDirectory&gt;/&lt;vmid&gt;.qga (+ &lt;vmid&gt;.qmp).</summary>
    public bool Proxmox { get; set; }

    public string ProxmoxDirectory { get; set; } = "/var/run/qemu-server";

    /// <summary>libvirt: &lt;LibvirtDirectory&gt;/domain-N-NAME/org.qemu.guest_agent.0.</summary>
    public bool Libvirt { get; set; }

    public string LibvirtDirectory { get; set; } = "/var/lib/libvirt/qemu/channel/target";

    /// <summary>
    /// Owners (user names or uids) trusted besides root and the relay's own user for discovery
    /// folders, the folders above them and the sockets in them; e.g. libvirt-qemu for libvirt's
    /// channel folders. A folder that fails the check is skipped with a warning.
    /// </summary>
    public List<string> TrustedOwners { get; set; } = new();

    /// <summary>How often discovery looks again.</summary>
    public double RescanSeconds { get; set; } = 10;
}

/// <summary>Every bound the relay enforces; see docs/relay.md.</summary>
public sealed class LimitOptions
{
    /// <summary>Largest guest reply (a 48 MiB guest-file-read in base64 is 64 MiB): default 65 MiB.</summary>
    public int MaxReplyBytes { get; set; } = (64 + 1) * 1024 * 1024;

    /// <summary>Largest client request (a 48 MiB guest-file-write): default 65 MiB.</summary>
    public int MaxRequestBytes { get; set; } = (64 + 1) * 1024 * 1024;

    /// <summary>JSON nesting bound for replies and requests (the schema needs fewer than 10).</summary>
    public int MaxDepth { get; set; } = 64;

    /// <summary>JSON tokens per message (stock parser: 2,097,152).</summary>
    public int MaxTokens { get; set; } = 2 * 1024 * 1024;

    /// <summary>Bytes that may arrive from the guest without forming an accepted message, beyond one maximal reply.</summary>
    public int MaxGarbageBytes { get; set; } = 1024 * 1024;

    /// <summary>From the request written to the first reply byte.</summary>
    public double FirstByteTimeoutSeconds { get; set; } = 30;

    /// <summary>From the first reply byte to the complete reply.</summary>
    public double LastByteTimeoutSeconds { get; set; } = 30;

    /// <summary>How long a success-response:false command (guest-shutdown, guest-suspend-*) may still answer with an error.</summary>
    public double NoResponseGraceSeconds { get; set; } = 3;

    /// <summary>One guest-sync-delimited attempt.</summary>
    public double SyncTimeoutSeconds { get; set; } = 10;

    /// <summary>Sync attempts on one connection before it is dropped and re-opened.</summary>
    public int SyncAttempts { get; set; } = 3;

    /// <summary>Writing one message to the guest or to a client.</summary>
    public double WriteTimeoutSeconds { get; set; } = 30;

    /// <summary>How long a request may wait in the queue for the guest channel.</summary>
    public double QueueTimeoutSeconds { get; set; } = 60;

    /// <summary>Requests queued per VM.</summary>
    public int MaxQueuedRequests { get; set; } = 64;

    /// <summary>Requests queued per client connection.</summary>
    public int MaxQueuedPerClient { get; set; } = 4;

    /// <summary>Bytes of queued request arguments per VM.</summary>
    public long MaxQueuedBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Concurrent client connections per endpoint.</summary>
    public int MaxClientsPerEndpoint { get; set; } = 64;

    /// <summary>Reconnect backoff to the agent chardev.</summary>
    public double ReconnectInitialSeconds { get; set; } = 0.2;

    public double ReconnectMaxSeconds { get; set; } = 5;

    /// <summary>Longest error text from the guest passed on to a client (longer is cut).</summary>
    public int MaxErrorDescChars { get; set; } = 4096;

    internal TimeSpan FirstByteTimeout => TimeSpan.FromSeconds(FirstByteTimeoutSeconds);

    internal TimeSpan LastByteTimeout => TimeSpan.FromSeconds(LastByteTimeoutSeconds);

    internal TimeSpan NoResponseGrace => TimeSpan.FromSeconds(NoResponseGraceSeconds);

    internal TimeSpan SyncTimeout => TimeSpan.FromSeconds(SyncTimeoutSeconds);

    internal TimeSpan WriteTimeout => TimeSpan.FromSeconds(WriteTimeoutSeconds);

    internal TimeSpan QueueTimeout => TimeSpan.FromSeconds(QueueTimeoutSeconds);

    internal TimeSpan ReconnectInitial => TimeSpan.FromSeconds(ReconnectInitialSeconds);

    internal TimeSpan ReconnectMax => TimeSpan.FromSeconds(ReconnectMaxSeconds);
}
