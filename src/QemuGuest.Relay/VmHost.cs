using System;
using System.Collections.Generic;
using System.IO;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.Protocol.Transports;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Endpoints;
using QemuGuest.Relay.Guest;
using QemuGuest.Relay.Qmp;

namespace QemuGuest.Relay;

/// <summary>One running VM: its guest channel, its management endpoints, its QMP watcher.</summary>
internal sealed class VmHost : IAsyncDisposable
{
    private readonly List<EndpointListener> _listeners = new();
    private readonly List<string> _endpointNames = new();
    private QmpWatcher? _qmp;

    private VmHost(VmDefinition definition, VmChannel channel)
    {
        Definition = definition;
        Channel = channel;
    }

    public VmDefinition Definition { get; }

    public VmChannel Channel { get; }

    public IReadOnlyList<string> Endpoints => _endpointNames;

    public static VmHost Start(VmDefinition definition, RelayOptions options, RelaySchema schema, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("QemuGuest.Relay.Vm");
        var channel = new VmChannel(definition.Name, ConnectionString.Parse(definition.Agent).CreateTransport(), options.Limits, logger);
        var host = new VmHost(definition, channel);
        try
        {
            foreach (var e in definition.Endpoints)
            {
                var policy = EndpointPolicy.Resolve(options, e.Policy);
                string suffix = e.Name.Length == 0 ? "" : "." + e.Name;
                var handler = new VmRequestHandler(channel, schema, policy, options.Limits, definition.Name + suffix, logger);
                void Accepted() => RelayCounters.Inc(ref channel.Counters.ClientsAccepted);
                void Refused() => RelayCounters.Inc(ref channel.Counters.ClientsRefused);
                if (!e.NoSocket)
                {
                    var l = OperatingSystem.IsWindows()
                        ? EndpointListener.NamedPipe("qemuguest-relay-" + definition.Name + suffix, handler, options.Limits, logger, Accepted, Refused)
                        : EndpointListener.Unix(Path.Combine(options.RuntimeDirectory, definition.Name + suffix + ".sock"), handler, options.Limits, logger, Accepted, Refused);
                    host.Add(l, policy, definition.Name, logger);
                }

                if (e.Tcp is not null && EndpointAddress.TryParse(e.Tcp, out var ep))
                {
                    host.Add(EndpointListener.Tcp(ep!, handler, options.Limits, logger, Accepted, Refused), policy, definition.Name, logger);
                    // The validator only lets these through when opted into; say so at every start.
                    if (string.IsNullOrEmpty(e.Policy) || e.AllowRemote)
                    {
                        string what = string.IsNullOrEmpty(e.Policy)
                            ? "every command allowed (AllowUnrestricted)" + (e.AllowRemote ? ", reachable from the network (AllowRemote)" : ", any local user can connect")
                            : "reachable from the network (AllowRemote)";
                        Log.TcpExposed(logger, "tcp:" + ep, definition.Name, what);
                    }
                }
            }

            if (definition.Qmp is not null)
            {
                host._qmp = QmpWatcher.Start(definition, channel, options.Limits, loggers.CreateLogger("QemuGuest.Relay.Qmp"));
            }

            channel.Start();
            return host;
        }
        catch
        {
            host.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var l in _listeners)
        {
            await l.DisposeAsync().ConfigureAwait(false);
        }

        if (_qmp is not null)
        {
            await _qmp.DisposeAsync().ConfigureAwait(false);
        }

        await Channel.DisposeAsync().ConfigureAwait(false);
    }

    private void Add(EndpointListener listener, EndpointPolicy policy, string vm, ILogger logger)
    {
        _listeners.Add(listener);
        _endpointNames.Add(listener.Display);
        Log.Listening(logger, listener.Display, vm, policy.Name.Length == 0 ? "(all commands)" : policy.Name);
    }
}
