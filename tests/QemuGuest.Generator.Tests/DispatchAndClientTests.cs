using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;

namespace QemuGuest.Generator.Tests;

/// <summary>
/// The "basic" scenario compiled in memory with every backend, a small handler and a fake channel,
/// then run: dispatcher (unmarshal → handler → marshal, platform conditions, not-found) and client
/// (typed call → request JSON → typed result).
/// </summary>
public sealed class DispatchAndClientTests
{
    private const string HarnessSource = """
        using System;
        using System.Collections.Generic;
        using System.IO;
        using System.Linq;
        using System.Text;
        using System.Text.Json;
        using System.Threading;
        using System.Threading.Tasks;
        using QemuGuest.Protocol;
        using QemuGuest.Protocol.Validation;

        namespace Scenario.Qga;

        public sealed class TestHandler : IQgaCommandHandler
        {
            public List<string> Calls { get; } = new();

            public ValueTask<Item> ItemGetAsync(long id, ItemMode? mode, CancellationToken cancellationToken) =>
                new(new Item(id, "item" + id, new[] { "a", "b" }) { Mode = mode, Size = 42 });

            public ValueTask<IReadOnlyList<Item>> ItemListAsync(CancellationToken cancellationToken) =>
                new(new Item[] { new Item(1, "one", Array.Empty<string>()) });

            public ValueTask<long> ItemCountAsync(CancellationToken cancellationToken) => new(7);

            public ValueTask ItemPutAsync(Item arguments, CancellationToken cancellationToken)
            {
                Calls.Add("put " + arguments.Name + " " + arguments.Mode);
                return default;
            }

            public ValueTask ItemTouchAsync(bool? deep, IReadOnlyList<string> names, bool? recursive, CancellationToken cancellationToken)
            {
                Calls.Add("touch " + (deep?.ToString() ?? "null") + " " + string.Join(",", names));
                return default;
            }

            public ValueTask ItemHaltAsync(CancellationToken cancellationToken)
            {
                Calls.Add("halt");
                return default;
            }
        }

        public sealed class FakeChannel : IGuestAgentChannel
        {
            public string Reply { get; set; } = "{}";
            public List<string> Sent { get; } = new();

            private void Record(string command, IQgaArguments? arguments)
            {
                using var ms = new MemoryStream();
                using (var w = new Utf8JsonWriter(ms))
                {
                    w.WriteStartObject();
                    w.WriteString("execute", command);
                    if (arguments is not null)
                    {
                        w.WritePropertyName("arguments");
                        w.WriteStartObject();
                        arguments.WriteMembers(w);
                        w.WriteEndObject();
                    }
                    w.WriteEndObject();
                }
                Sent.Add(Encoding.UTF8.GetString(ms.ToArray()));
            }

            public Task<JsonElement> ExecuteAsync(string command, IQgaArguments? arguments, QgaCallOptions? options, CancellationToken cancellationToken)
            {
                Record(command, arguments);
                return Task.FromResult(JsonDocument.Parse(Reply).RootElement);
            }

            public Task ExecuteWithoutResponseAsync(string command, IQgaArguments? arguments, QgaCallOptions? options, CancellationToken cancellationToken)
            {
                Record(command, arguments);
                return Task.CompletedTask;
            }
        }

        public static class Harness
        {
            public static string Dispatch(string command, string? args, string[] symbols)
            {
                var handler = new TestHandler();
                var dispatcher = new QgaDispatcher(handler, new QgaPlatform(symbols));
                using var ms = new MemoryStream();
                try
                {
                    using (var w = new Utf8JsonWriter(ms))
                    {
                        JsonElement? a = args is null ? null : JsonDocument.Parse(args).RootElement;
                        dispatcher.DispatchAsync(command, a, w, default).AsTask().GetAwaiter().GetResult();
                    }
                    return Encoding.UTF8.GetString(ms.ToArray()) + (handler.Calls.Count > 0 ? " | " + string.Join("; ", handler.Calls) : "");
                }
                catch (QgaCommandException e)
                {
                    return e.ErrorClass + ": " + e.Description;
                }
                catch (QapiUnmarshalException e)
                {
                    return "GenericError: " + e.Message;
                }
            }

            public static string Available(string[] symbols) =>
                string.Join(",", new QgaDispatcher(new TestHandler(), new QgaPlatform(symbols)).AvailableCommands.Select(c => c.Name));

            public static string Client()
            {
                var channel = new FakeChannel();
                var client = new GuestAgentCommands(channel);
                var log = new List<string>();
                channel.Reply = "{\"id\":5,\"name\":\"five\",\"tags\":[],\"mode\":\"write\"}";
                var item = client.ItemGetAsync(5, ItemMode.Write).GetAwaiter().GetResult();
                log.Add(item.Name + " " + item.Mode + " " + (item.Size?.ToString() ?? "null"));
                channel.Reply = "7";
                log.Add(client.ItemCountAsync().GetAwaiter().GetResult().ToString());
                channel.Reply = "{}";
                client.ItemTouchAsync(new[] { "x" }).GetAwaiter().GetResult();
                client.ItemPutAsync(new Item(1, "n", new[] { "t" })).GetAwaiter().GetResult();
                client.ItemHaltAsync().GetAwaiter().GetResult();
                channel.Reply = "{\"id\":\"bad\"}";
                try
                {
                    client.ItemGetAsync(1).GetAwaiter().GetResult();
                }
                catch (QgaProtocolException e)
                {
                    log.Add(e.Message);
                }
                return string.Join("\n", channel.Sent.Concat(log));
            }

            public static string Validate(string request) =>
                QgaSchemaDescriptors.Validator.ValidateRequest(JsonDocument.Parse(request).RootElement)?.ToString() ?? "ok";
        }
        """;

    private static readonly Lazy<Type> Harness = new(() =>
    {
        var (_, output, diagnostics) = GeneratorHarness.Run(BaselineTests.ScenarioFiles("basic"), BaselineTests.AllBackends, HarnessSource);
        Assert.Empty(diagnostics);
        using var ms = new MemoryStream();
        var emit = output.Emit(ms);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        ms.Position = 0;
        var asm = new AssemblyLoadContext("scenario-basic").LoadFromStream(ms);
        return asm.GetType("Scenario.Qga.Harness", throwOnError: true)!;
    });

    private static string Call(string method, params object?[] args) =>
        (string)Harness.Value.GetMethod(method, BindingFlags.Public | BindingFlags.Static)!.Invoke(null, args)!;

    private static readonly string[] Linux = { "CONFIG_POSIX", "CONFIG_LINUX" };
    private static readonly string[] Windows = { "CONFIG_WIN32" };

    [Theory]
    [InlineData("item-get", """{"id":3,"mode":"write"}""", """{"id":3,"name":"item3","size":42,"tags":["a","b"],"mode":"write"}""")]
    [InlineData("item-get", """{"id":3}""", """{"id":3,"name":"item3","size":42,"tags":["a","b"]}""")]
    [InlineData("item-get", null, "GenericError: Parameter 'id' is missing")]
    [InlineData("item-get", """{"id":3,"x":1}""", "GenericError: Parameter 'x' is unexpected")]
    [InlineData("item-get", """{"id":3,"mode":"sideways"}""", "GenericError: Parameter 'mode' does not accept value 'sideways'")]
    [InlineData("item-get", """[]""", "GenericError: QMP input member 'arguments' must be an object")]
    [InlineData("item-list", null, """[{"id":1,"name":"one","tags":[]}]""")]
    [InlineData("item-list", "{}", """[{"id":1,"name":"one","tags":[]}]""")]
    [InlineData("item-list", """{"a":1}""", "GenericError: Parameter 'a' is unexpected")]
    [InlineData("item-count", null, "7")]
    [InlineData("item-put", """{"id":1,"name":"n","tags":[],"mode":"append"}""", "{} | put n Append")]
    [InlineData("item-put", """{"id":1,"name":"n","tags":[1]}""", "GenericError: Invalid parameter type for 'tags[0]', expected: string")]
    [InlineData("item-touch", """{"names":["a","b"]}""", "{} | touch null a,b")]
    [InlineData("item-touch", """{"names":["a"],"deep":true}""", "{} | touch True a")]
    [InlineData("item-halt", null, "{} | halt")]
    [InlineData("item-nope", null, "CommandNotFound: The command item-nope has not been found")]
    public void DispatcherOnLinux(string command, string? args, string expected) =>
        Assert.Equal(expected, Call("Dispatch", command, args, Linux));

    [Fact]
    public void ConditionsDecideWhichCommandsExist()
    {
        Assert.Equal("item-get,item-list,item-count,item-put,item-touch,item-halt", Call("Available", new object[] { Linux }));
        Assert.Equal("item-get,item-count,item-put,item-touch", Call("Available", new object[] { Windows }));
        Assert.Equal("item-get,item-put,item-touch,item-halt", Call("Available", new object[] { Array.Empty<string>() }));
        Assert.Equal("CommandNotFound: The command item-list has not been found", Call("Dispatch", "item-list", null, Windows));
        Assert.Equal("CommandNotFound: The command item-halt has not been found", Call("Dispatch", "item-halt", null, Windows));
        // Conditional members and enum values: what the stock agent built for that platform would say.
        Assert.Equal("GenericError: Parameter 'mode' does not accept value 'append'", Call("Dispatch", "item-get", """{"id":1,"mode":"append"}""", Windows));
        Assert.StartsWith("{\"id\":1", Call("Dispatch", "item-get", """{"id":1,"mode":"append"}""", Linux));
        Assert.Equal("GenericError: Parameter 'recursive' is unexpected", Call("Dispatch", "item-touch", """{"names":[],"recursive":true}""", Windows));
        Assert.Equal("{} | touch null ", Call("Dispatch", "item-touch", """{"names":[],"recursive":true}""", Linux));
    }

    [Fact]
    public void ClientSendsTypedArgumentsAndReadsTypedResults()
    {
        Assert.Equal(
            string.Join("\n",
                """{"execute":"item-get","arguments":{"id":5,"mode":"write"}}""",
                """{"execute":"item-count"}""",
                """{"execute":"item-touch","arguments":{"names":["x"]}}""",
                """{"execute":"item-put","arguments":{"id":1,"name":"n","tags":["t"]}}""",
                """{"execute":"item-halt"}""",
                """{"execute":"item-get","arguments":{"id":1}}""",
                "five Write null",
                "7",
                "item-get: reply does not match the schema: Invalid parameter type for 'id', expected: integer"),
            Call("Client"));
    }

    [Theory]
    [InlineData("""{"execute":"item-get","arguments":{"id":1},"id":"x"}""", "ok")]
    [InlineData("""{"execute":"item-touch","arguments":{"names":"a"}}""", "GenericError: Invalid parameter type for 'names', expected: array")]
    [InlineData("""{"execute":"item-put","arguments":{"id":1,"name":"n","tags":[],"size":-1}}""", "ok")]
    [InlineData("""{"execute":"item-put","arguments":{"id":1,"name":"n","tags":[],"size":1.5}}""", "GenericError: Parameter 'size' expects uint64")]
    [InlineData("""{"execute":"nope"}""", "CommandNotFound: The command nope has not been found")]
    public void GeneratedValidatorTables(string request, string expected) =>
        Assert.Equal(expected, Call("Validate", request));
}
