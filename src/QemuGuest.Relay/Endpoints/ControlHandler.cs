using System;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Marshalling;
using QemuGuest.Protocol.Validation;
using QemuGuest.Relay.Wire;

namespace QemuGuest.Relay.Endpoints;

/// <summary>
/// The control endpoint (control.sock): the same framing and envelope as the agent protocol,
/// with the relay's own commands:
/// relay-version, relay-list-vms, relay-stats, relay-query-commands; plus guest-sync and
/// guest-sync-delimited so ordinary clients can sync with it.
/// </summary>
internal sealed class ControlHandler : IRequestHandler
{
    private readonly RelayRegistry _registry;

    public ControlHandler(RelayRegistry registry) => _registry = registry;

    public ValueTask<ReadOnlyMemory<byte>> HandleAsync(OwnedJson request, RequestEnvelope envelope, JsonMessageWriter writer, object client, CancellationToken cancellationToken)
    {
        JsonElement? id = envelope.Id;
        if (envelope.Error is not null)
        {
            return new(writer.WriteError("GenericError", envelope.Error, id));
        }

        string command = envelope.Command!;
        JsonElement? args = envelope.Arguments;
        switch (command)
        {
            case "guest-sync":
            case "guest-sync-delimited":
                if (args is not { } sa || !sa.TryGetProperty("id", out var syncId) || syncId.ValueKind != JsonValueKind.Number || !syncId.TryGetInt64(out _))
                {
                    return new(writer.WriteError("GenericError", QapiErrorTexts.InvalidType("id", "integer"), id));
                }

                return new(writer.WriteReturn(w => syncId.WriteTo(w), id, command == "guest-sync-delimited"));
            case "relay-version":
                return new(writer.WriteReturn(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("version", RelayRegistry.Version);
                    w.WriteNumber("schema-commands", _registry.Schema.Commands.Count);
                    w.WriteEndObject();
                }, id));
            case "relay-query-commands":
                return new(writer.WriteReturn(WriteCommands, id));
            case "relay-list-vms":
                return new(writer.WriteReturn(WriteVms, id));
            case "relay-stats":
                return new(writer.WriteReturn(WriteStats, id));
            default:
                return new(writer.WriteError("CommandNotFound", QapiErrorTexts.CommandNotFound(command), id));
        }
    }

    private void WriteCommands(Utf8JsonWriter w)
    {
        w.WriteStartArray();
        foreach (var c in _registry.Schema.Commands)
        {
            w.WriteStartObject();
            w.WriteString("name", c.Name);
            w.WriteBoolean("success-response", c.SuccessResponse);
            w.WriteBoolean("has-arguments", c.Arguments is not null);
            w.WriteString("returns", c.Returns?.Name ?? "{}");
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private void WriteVms(Utf8JsonWriter w)
    {
        w.WriteStartArray();
        foreach (var vm in _registry.Snapshot())
        {
            var c = vm.Channel;
            w.WriteStartObject();
            w.WriteString("name", vm.Definition.Name);
            w.WriteString("source", vm.Definition.Source);
            w.WriteString("agent", vm.Definition.Agent);
            w.WriteString("state", c.State.ToString().ToLowerInvariant());
            if (vm.Definition.Qmp is not null)
            {
                w.WriteString("qmp", vm.Definition.Qmp);
            }

            if (c.PortOpen is bool open)
            {
                w.WriteBoolean("port-open", open);
            }

            if (c.ConnectedSince is { } since)
            {
                w.WriteString("connected-since", since.ToString("O"));
            }

            if (c.LastSync is { } sync)
            {
                w.WriteString("last-sync", sync.ToString("O"));
            }

            w.WriteNumber("queued", c.QueueLength);
            w.WriteStartArray("endpoints");
            foreach (var e in vm.Endpoints)
            {
                w.WriteStringValue(e);
            }

            w.WriteEndArray();
            w.WriteStartArray("policies");
            foreach (var e in vm.Definition.Endpoints)
            {
                w.WriteStringValue(string.IsNullOrEmpty(e.Policy) ? "" : e.Policy);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private void WriteStats(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("version", RelayRegistry.Version);
        w.WriteNumber("working-set", Environment.WorkingSet);
        w.WriteNumber("managed-heap", GC.GetTotalMemory(false));
        var total = new RelayCounters();
        w.WriteStartArray("vms");
        foreach (var vm in _registry.Snapshot())
        {
            w.WriteStartObject();
            w.WriteString("name", vm.Definition.Name);
            w.WriteString("state", vm.Channel.State.ToString().ToLowerInvariant());
            vm.Channel.Counters.WriteMembers(w);
            total.AddFrom(vm.Channel.Counters);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartObject("total");
        total.WriteMembers(w);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
