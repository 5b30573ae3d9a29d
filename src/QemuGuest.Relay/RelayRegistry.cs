using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.Protocol.Transports;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Discovery;
using QemuGuest.Relay.Endpoints;
using QemuGuest.Relay.Guest;

namespace QemuGuest.Relay;

/// <summary>
/// The set of running VMs: configured ones plus discovered ones, reconciled on every rescan
/// (new sockets start a VM, vanished ones stop it). Also owns the control endpoint.
/// </summary>
public sealed class RelayRegistry : IAsyncDisposable
{
    private readonly RelayOptions _options;
    private readonly RelaySchema _schema;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly Dictionary<string, VmHost> _vms = new(StringComparer.Ordinal);
    private EndpointListener? _control;

    public RelayRegistry(RelayOptions options, RelaySchema schema, ILoggerFactory loggers)
    {
        _options = options;
        _schema = schema;
        _loggers = loggers;
        _logger = loggers.CreateLogger("QemuGuest.Relay");
    }

    public RelaySchema Schema => _schema;

    public RelayOptions Options => _options;

    public static string Version { get; } =
        typeof(RelayRegistry).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    // Names alone miss commands that do the same thing (the extension's exec-start next to
    // guest-exec): say so once at start; the entries themselves were checked by the validator.
    private void WarnAboutPolicies()
    {
        foreach (var (name, p) in _options.Policies)
        {
            foreach (string warning in new EndpointPolicy(name, p.Allow, p.Deny).Warnings())
            {
                Log.PolicyLeavesCommands(_logger, name, warning);
            }
        }
    }

    internal static IReadOnlyList<EndpointOptions> DefaultEndpoints(RelayOptions options) =>
        options.Endpoints.Count > 0 ? options.Endpoints : DefaultEndpointList;

    private static readonly IReadOnlyList<EndpointOptions> DefaultEndpointList = new[] { new EndpointOptions() };

    /// <summary>
    /// Creates the runtime directory (0700) and the control endpoint. Throws
    /// <see cref="RelayStartupException"/> when the runtime directory cannot be trusted.
    /// </summary>
    public void Start()
    {
        Log.Starting(_logger, Version, _options.RuntimeDirectory, _schema.Commands.Count);
        WarnAboutPolicies();
        if (!OperatingSystem.IsWindows())
        {
            PrepareRuntimeDirectory(_options.RuntimeDirectory);
        }

        if (_options.ControlEndpoint)
        {
            var handler = new ControlHandler(this);
            _control = OperatingSystem.IsWindows()
                ? EndpointListener.NamedPipe("qemuguest-relay-control", handler, _options.Limits, _logger)
                : EndpointListener.Unix(Path.Combine(_options.RuntimeDirectory, "control.sock"), handler, _options.Limits, _logger);
            Log.ControlListening(_logger, _control.Display);
        }
    }

    /// <summary>
    /// Whoever can replace a socket in the runtime directory impersonates the relay to every
    /// client, so the directory must be ours alone: not a link, owned by the relay's user (or
    /// root), no group/other bits, no folder above it writable by others. An existing directory
    /// is never chmod-ed into shape: that would follow a link, and would bless sockets someone
    /// else may already have put there.
    /// </summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    internal static void PrepareRuntimeDirectory(string path)
    {
        var trust = UnixPathTrust.Check(path, TrustedPathKind.PrivateDirectory);
        if (trust.Verdict == PathTrustVerdict.Missing && trust.Path == Path.GetFullPath(path).TrimEnd('/'))
        {
            string? parent = Path.GetDirectoryName(Path.GetFullPath(path).TrimEnd('/'));
            var above = parent is null ? trust : UnixPathTrust.Check(parent, TrustedPathKind.Directory);
            if (above.Verdict == PathTrustVerdict.Untrusted)
            {
                throw new RelayStartupException(path, above);
            }

            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            trust = UnixPathTrust.Check(path, TrustedPathKind.PrivateDirectory);
        }

        if (!trust.IsTrusted)
        {
            throw new RelayStartupException(path, trust);
        }
    }

    /// <summary>Configured VMs plus one discovery scan, then start/stop the difference.</summary>
    public async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        var wanted = new Dictionary<string, VmDefinition>(StringComparer.Ordinal);
        foreach (var (name, vm) in _options.Vms)
        {
            wanted[name] = new VmDefinition(name, vm.Agent, vm.Qmp, vm.QmpPort, vm.Endpoints.Count > 0 ? vm.Endpoints : DefaultEndpoints(_options), "config");
        }

        foreach (var d in VmDiscovery.Scan(_options, _logger))
        {
            wanted.TryAdd(d.Name, d);
        }

        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var name in new List<string>(_vms.Keys))
            {
                if (!wanted.TryGetValue(name, out var def) || !def.SameWiring(_vms[name].Definition))
                {
                    var host = _vms[name];
                    _vms.Remove(name);
                    await host.DisposeAsync().ConfigureAwait(false);
                    Log.VmRemoved(_logger, name);
                }
            }

            foreach (var (name, def) in wanted)
            {
                if (_vms.ContainsKey(name))
                {
                    continue;
                }

                try
                {
                    _vms[name] = VmHost.Start(def, _options, _schema, _loggers);
                    Log.VmAdded(_logger, name, def.Agent, def.Source);
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
                {
                    Log.ListenerFailed(_logger, name, e);
                }
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    internal List<VmHost> Snapshot()
    {
        _lock.Wait();
        try
        {
            var list = new List<VmHost>(_vms.Values);
            list.Sort((a, b) => string.CompareOrdinal(a.Definition.Name, b.Definition.Name));
            return list;
        }
        finally
        {
            _lock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Log.Stopping(_logger);
        if (_control is not null)
        {
            await _control.DisposeAsync().ConfigureAwait(false);
        }

        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var host in _vms.Values)
            {
                await host.DisposeAsync().ConfigureAwait(false);
            }

            _vms.Clear();
        }
        finally
        {
            _lock.Release();
        }
    }
}
