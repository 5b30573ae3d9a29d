using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using CsCheck;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Validation;
using QemuGuest.Tests.Shared;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// The generated dispatcher's unmarshalling against arbitrary arguments, every Linux command:
/// only the named errors come out (QapiUnmarshalException for bad arguments,
/// the handler's AgentCommandException once they are good), and the relay's descriptor-driven
/// validator agrees on every verdict and every error text. The handler runs nothing.
/// </summary>
public class DispatchPropertyTests
{
    // Linux, the platform this runs on: the validator ignores 'if' conditions (the relay passes
    // whatever the schema declares), and on Linux no argument value is conditioned away
    // (on Windows, capture-output "merged" is, and the agent rightly refuses it there).
    private static readonly GeneratedDispatcher Dispatcher = new(RecordingHandler.Create(), QgaPlatform.Linux);

    private static readonly QgaCommandDescriptor[] Commands = QgaSchemaDescriptors.Commands
        .Where(c => Dispatcher.TryGetCommand(c.Name, out _)).OrderBy(c => c.Name, StringComparer.Ordinal).ToArray();

    private static string Dispatch(string command, JsonElement arguments)
    {
        using var buffer = new MemoryStream();
        using var writer = new Utf8JsonWriter(buffer);
        try
        {
            ValueTask pending = Dispatcher.DispatchAsync(command, arguments, writer, CancellationToken.None);
            Assert.True(pending.IsCompleted, command + ": dispatch did not complete at once");
            pending.GetAwaiter().GetResult();
            return "handler";
        }
        catch (QapiUnmarshalException e)
        {
            Assert.False(string.IsNullOrEmpty(e.Message));
            return "GenericError: " + e.Message;
        }
        catch (AgentCommandException e) when (e.Message == RecordingHandler.Refusal)
        {
            return "handler";
        }
    }

    [Fact]
    public void Property_any_arguments_give_a_named_error_or_reach_the_handler_and_the_validator_agrees()
    {
        Gen.Select(QapiJsonGen.Pick(Commands), Gen.Int[0, 4], QapiJsonGen.AnyJson).SelectMany((c, kind, junk) =>
            (kind == 0 ? Gen.Const(junk) : c.Arguments is null ? Gen.Const((JsonNode?)new JsonObject()) : QapiJsonGen.Object(c.Arguments, 0))
                .Select(args => (c, args)))
            .Sample(t =>
            {
                var (command, args) = t;
                var request = new JsonObject { ["execute"] = command.Name, ["arguments"] = args?.DeepClone() };
                using var doc = JsonDocument.Parse(request.ToJsonString());
                JsonElement arguments = doc.RootElement.GetProperty("arguments");
                if (arguments.ValueKind != JsonValueKind.Object)
                {
                    // The service loop refuses a non-object before the dispatcher (its own text).
                    Assert.NotNull(QgaSchemaDescriptors.Validator.ValidateRequest(doc.RootElement));
                    return;
                }

                string dispatched = Dispatch(command.Name, arguments);
                QgaValidationError? verdict = QgaSchemaDescriptors.Validator.ValidateRequest(doc.RootElement);
                Assert.Equal(verdict is null ? "handler" : verdict.ToString(), dispatched);
            }, iter: 3000, print: t => t.Item1.Name + " " + t.Item2?.ToJsonString());
    }

    [Fact]
    public void Well_formed_arguments_reach_the_handler_for_every_command()
    {
        // The generator is not trivially all-invalid: each command accepts its minimal arguments.
        foreach (var c in Commands)
        {
            var args = new JsonObject();
            foreach (var m in c.Arguments?.Members ?? Array.Empty<QapiMemberDescriptor>())
            {
                if (!m.Optional)
                {
                    args[m.Name] = Minimal(m.Type);
                }
            }

            if (c.Arguments?.Discriminator is not null)
            {
                continue;
            }

            using var doc = JsonDocument.Parse(args.ToJsonString());
            Assert.Equal(c.Name + ": handler", c.Name + ": " + Dispatch(c.Name, doc.RootElement));
        }
    }

    private static JsonNode? Minimal(QapiTypeDescriptor d) => d switch
    {
        QapiBuiltinDescriptor { Kind: QapiBuiltin.Str } => JsonValue.Create("x"),
        QapiBuiltinDescriptor { Kind: QapiBuiltin.Bool } => JsonValue.Create(true),
        QapiBuiltinDescriptor { Kind: QapiBuiltin.Null } => null,
        QapiBuiltinDescriptor { Kind: QapiBuiltin.Any } => new JsonObject(),
        QapiBuiltinDescriptor => JsonValue.Create(1),
        QapiEnumDescriptor e => JsonValue.Create(e.Values[0]),
        QapiArrayDescriptor => new JsonArray(),
        QapiAlternateDescriptor alt => Minimal(alt.Alternatives[0]),
        QapiObjectDescriptor o => new JsonObject(o.Members.Where(m => !m.Optional).Select(m => KeyValuePair.Create(m.Name, Minimal(m.Type)))),
        _ => null,
    };
}
