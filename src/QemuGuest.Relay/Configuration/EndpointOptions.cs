namespace QemuGuest.Relay.Configuration;

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
