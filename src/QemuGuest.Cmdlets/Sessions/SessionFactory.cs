using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using System.Threading;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Facade;
using QemuGuest.Protocol.Transports;

namespace QemuGuest.Cmdlets.Sessions;

/// <summary>
/// Opens sessions: from a connection string, or for a VM name through the relay's per-VM
/// endpoint. The one place that knows where the relay puts its endpoints.
/// </summary>
internal static class SessionFactory
{
    /// <summary>Overrides the relay's runtime directory (Linux) for -VMName lookups.</summary>
    public const string RelayDirectoryVariable = "QEMUGUEST_RELAY_DIR";

    public const string DefaultRelayDirectory = "/run/qemuguest-relay";

    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);

    // VM names become file or pipe names: no separators, no "..", nothing a shell would mangle.
    private static readonly Regex s_vmName = new("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", RegexOptions.CultureInvariant);

    public static bool IsWindows => RuntimeInformation.IsOSPlatform(OSPlatform.Windows);

    public static string RelayDirectory =>
        Environment.GetEnvironmentVariable(RelayDirectoryVariable) is { Length: > 0 } dir ? dir : DefaultRelayDirectory;

    /// <summary>The connection string of the relay's endpoint for a VM.</summary>
    public static string RelayEndpointFor(string vmName)
    {
        if (!s_vmName.IsMatch(vmName))
        {
            throw new ArgumentException($"'{vmName}' is not a valid VM name: use letters, digits, '.', '_' and '-' (at most 128, not starting with '.', '_' or '-').", nameof(vmName));
        }
        if (IsWindows && Environment.GetEnvironmentVariable(RelayDirectoryVariable) is not { Length: > 0 })
        {
            return "pipe:qemuguest-relay-" + vmName;
        }

        string socket = Path.Combine(RelayDirectory, vmName + ".sock");
        RequireTrusted(socket, vmName);
        return "unix:" + socket;
    }

    /// <summary>
    /// Whoever can replace the socket (a link, a foreign owner, a folder others may write)
    /// receives every command meant for the VM and answers as it likes, so such a path is
    /// refused (ErrorId UntrustedPath). A missing or unreadable one is left to the connect,
    /// which reports it the usual way.
    /// </summary>
    private static void RequireTrusted(string socket, string vmName)
    {
        var trust = UnixPathTrust.Check(socket, TrustedPathKind.Socket);
        if (trust.Verdict == PathTrustVerdict.Untrusted)
        {
            throw ErrorTable.Fail(ErrorTable.UntrustedPath, System.Management.Automation.ErrorCategory.SecurityError,
                $"The relay endpoint of VM '{vmName}' is not trusted, so it was not used: {trust}. "
                + $"Only root or the current user may own the socket and the folders above it, none of them a link or writable by others ({RelayDirectoryVariable} chooses the folder).",
                trust.Path);
        }
    }

    /// <summary>VM names the relay currently serves (its endpoint sockets), for tab completion.</summary>
    public static string[] ListRelayVMs()
    {
        try
        {
            string dir = RelayDirectory;
            if (!Directory.Exists(dir))
            {
                return Array.Empty<string>();
            }
            var names = new System.Collections.Generic.List<string>();
            foreach (var f in Directory.GetFiles(dir, "*.sock"))
            {
                string vm = Path.GetFileNameWithoutExtension(f);
                if (s_vmName.IsMatch(vm) && vm != "control")
                {
                    names.Add(vm);
                }
            }
            names.Sort(StringComparer.OrdinalIgnoreCase);
            return names.ToArray();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Array.Empty<string>();
        }
    }

    /// <summary>
    /// The VM names a wildcard pattern (-VMName web*) stands for, as PowerCLI's -VM does: open
    /// sessions (with <paramref name="includeSessions"/>) and the VMs the relay serves, each once,
    /// sorted. A relay VM's extra endpoints (web01.ro.sock beside web01.sock) are the same VM,
    /// so they are not matched again.
    /// </summary>
    public static System.Collections.Generic.List<string> MatchVMNames(string pattern, bool includeSessions)
    {
        var wildcard = new System.Management.Automation.WildcardPattern(pattern, System.Management.Automation.WildcardOptions.IgnoreCase);
        var relay = ListRelayVMs();
        var candidates = new System.Collections.Generic.List<string>();
        if (includeSessions)
        {
            foreach (var s in SessionRegistry.Snapshot())
            {
                if (!s.IsDisposed)
                {
                    candidates.Add(s.TargetName);
                }
            }
        }
        foreach (var vm in relay)
        {
            if (!Array.Exists(relay, other => vm.StartsWith(other + ".", StringComparison.OrdinalIgnoreCase)))
            {
                candidates.Add(vm);
            }
        }
        var seen = new System.Collections.Generic.HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var matches = new System.Collections.Generic.List<string>();
        foreach (var name in candidates)
        {
            if (wildcard.IsMatch(name) && seen.Add(name))
            {
                matches.Add(name);
            }
        }
        matches.Sort(StringComparer.OrdinalIgnoreCase);
        return matches;
    }

    /// <summary>The error for a -VMName pattern that matched no session and no relay VM.</summary>
    public static System.Management.Automation.ErrorRecord NoVMMatches(string pattern) =>
        ErrorTable.Create(ErrorTable.VMNotFound, System.Management.Automation.ErrorCategory.ObjectNotFound,
            $"No open session and no VM of the relay ({RelayDirectory}) matches '{QemuGuest.Protocol.GuestText.Quoted(pattern)}'.", pattern);

    public static GuestSession OpenForVM(string vmName, bool temporary) =>
        Open(RelayEndpointFor(vmName), vmName, vmName, temporary, DefaultConnectTimeout, CancellationToken.None);

    /// <summary>Connects and syncs, so a session that exists is one that answered.</summary>
    public static GuestSession Open(string connectionString, string name, string? vmName, bool temporary, TimeSpan connectTimeout, CancellationToken cancellationToken)
    {
        var (channel, owner) = ProtocolClientFactory.Connect(connectionString, connectTimeout, cancellationToken);
        return new GuestSession(name, vmName, connectionString, channel, owner, temporary);
    }
}
