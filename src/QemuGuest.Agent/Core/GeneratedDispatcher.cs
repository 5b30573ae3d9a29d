using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Agent.Core;

/// <summary>Adapts the generated <see cref="QgaDispatcher"/> to the service loop's seam.</summary>
public sealed class GeneratedDispatcher : IAgentDispatcher
{
    private readonly QgaDispatcher _dispatcher;
    private readonly Dictionary<string, AgentCommandInfo> _commands = new(StringComparer.Ordinal);
    private readonly List<AgentCommandInfo> _list = new();

    public GeneratedDispatcher(IQgaCommandHandler handler, QgaPlatform platform)
    {
        _dispatcher = new QgaDispatcher(handler, platform);
        foreach (QgaCommandInfo c in _dispatcher.AvailableCommands)
        {
            var info = new AgentCommandInfo(c.Name, c.SuccessResponse);
            _commands[c.Name] = info;
            _list.Add(info);
        }
    }

    public IReadOnlyList<AgentCommandInfo> Commands => _list;

    public bool TryGetCommand(string name, out AgentCommandInfo info) => _commands.TryGetValue(name, out info!);

    public ValueTask DispatchAsync(string name, JsonElement arguments, Utf8JsonWriter writer, CancellationToken cancellationToken) =>
        _dispatcher.DispatchAsync(name, arguments, writer, cancellationToken);
}
