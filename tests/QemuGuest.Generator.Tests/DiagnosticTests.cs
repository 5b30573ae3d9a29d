using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;

namespace QemuGuest.Generator.Tests;

/// <summary>Invalid schemas become diagnostics with a stable id, QEMU's message and the schema location.</summary>
public sealed class DiagnosticTests
{
    [Fact]
    public void DiagnosticIdsAreUniqueAndRegistered()
    {
        var ids = DiagnosticDescriptors.All.Select(d => d.Id).ToArray();
        Assert.Equal(ids.Length, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Matches("^QG[0-9]{4}$", id));
        // Every descriptor field is in All (so Find works and none is forgotten in the shipped list).
        var fields = typeof(DiagnosticDescriptors).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => ((DiagnosticDescriptor)f.GetValue(null)!).Id);
        Assert.Equal(fields.OrderBy(x => x), ids.OrderBy(x => x));
        string unshipped = System.IO.File.ReadAllText(System.IO.Path.Combine(
            GeneratorHarness.TestsDirectory(), "..", "..", "src", "QemuGuest.Generator", "AnalyzerReleases.Unshipped.md"));
        Assert.All(ids, id => Assert.Contains(id + " |", unshipped));
    }

    public static IEnumerable<object[]> InvalidSchemas() => new[]
    {
        // schema text, expected message, line, column (1-based)
        new object[]
        {
            "{ 'command': 'guest-ping', 'bogus': 'x' }\n",
            "In command 'guest-ping': command has unknown key 'bogus'\nValid keys are 'allow-oob', 'allow-preconfig', 'boxed', 'command', 'coroutine', 'data', 'features', 'gen', 'if', 'returns', 'success-response'.",
            1, 1,
        },
        new object[] { "\n\n  { 'struct': 'Foo', 'data': { 'a': 'Nope' } }\n", "In struct 'Foo': member 'a' uses unknown type 'Nope'", 3, 37 },
        new object[] { "{ 'enum': 'Eeee', 'data': [ 'a', 'a' ] }\n", "In enum 'Eeee': value 'a' collides with value 'a'", 1, 34 },
    };

    [Theory]
    [MemberData(nameof(InvalidSchemas))]
    public void SchemaErrorIsLocated(string schema, string message, int line, int column)
    {
        var run = GeneratorHarness.Run(new Dictionary<string, string> { ["schema.json"] = schema }, "types");
        var d = Assert.Single(run.Diagnostics);
        Assert.Equal("QG0001", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(message, d.GetMessage(CultureInfo.InvariantCulture));
        var span = d.Location.GetLineSpan();
        Assert.Equal(GeneratorHarness.SchemaDir + "schema.json", span.Path);
        Assert.Equal(line - 1, span.StartLinePosition.Line);
        Assert.Equal(column - 1, span.StartLinePosition.Character);
        Assert.Empty(run.Result.Results.Single().GeneratedSources);
    }

    [Theory]
    [InlineData(
        "{ 'command': 'guest-ping', 'data': { 'a': 'int' } }\n{ 'struct': 'GuestPingArguments', 'data': { 'b': 'int' } }\n",
        "struct 'GuestPingArguments' and struct 'q_obj_guest-ping-arg' both become the C# type 'GuestPingArguments'", 2, 1)]
    [InlineData(
        "{ 'enum': 'Color', 'data': [ 'red' ] }\n{ 'struct': 'ColorExtensions', 'data': { 'b': 'int' } }\n",
        "struct 'ColorExtensions' and enum 'Color' both become the C# type 'ColorExtensions'", 2, 1)]
    public void GeneratedNameClashIsReported(string schema, string message, int line, int column)
    {
        var run = GeneratorHarness.Run(new Dictionary<string, string> { ["schema.json"] = schema }, "types");
        var d = Assert.Single(run.Diagnostics);
        Assert.Equal("QG0005", d.Id);
        Assert.Equal(message, d.GetMessage(CultureInfo.InvariantCulture));
        Assert.Equal(line - 1, d.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Equal(column - 1, d.Location.GetLineSpan().StartLinePosition.Character);
    }

    // QEMU has a pending rename of CONFIG_WIN32 to CONFIG_WIN64: taken as "false", every Windows
    // command would vanish without a word. Once per symbol, at the first definition naming it.
    [Theory]
    [InlineData("{ 'command': 'guest-a', 'if': 'CONFIG_WIN64' }\n{ 'command': 'guest-b', 'if': 'CONFIG_WIN64' }\n", "CONFIG_WIN64", "guest-a", 1)]
    [InlineData("{ 'command': 'guest-a' }\n{ 'struct': 'Sss', 'data': { 'x': { 'type': 'int', 'if': { 'any': [ 'CONFIG_LINUX', { 'not': 'CONFIG_LINUXX' } ] } } } }\n", "CONFIG_LINUXX", "Sss member 'x'", 2)]
    [InlineData("{ 'enum': 'Eee', 'data': [ 'a', { 'name': 'b', 'if': 'HAVE_UTMP' } ] }\n", "HAVE_UTMP", "Eee value 'b'", 1)]
    public void UnknownConfigSymbolIsReported(string schema, string symbol, string where, int line)
    {
        var run = GeneratorHarness.Run(new Dictionary<string, string> { ["schema.json"] = schema }, "types,dispatch");
        var d = Assert.Single(run.Diagnostics);
        Assert.True(d.Id == "QG0006", d.ToString());
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        string message = d.GetMessage(CultureInfo.InvariantCulture);
        Assert.StartsWith("The condition of " + where + " names the config symbol '" + symbol + "', which no platform defines", message);
        Assert.Contains("CONFIG_WIN32", message);
        Assert.Equal(line - 1, d.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Empty(run.Result.Results.Single().GeneratedSources);
    }

    // The capabilities side file (ROOT.capabilities.json) is read with the schema: a name in it
    // that is no command points into that file; a command it forgets (a newer upstream schema
    // dropped in as the root) points at the command and names the file to add it to.
    [Theory]
    [InlineData("{ 'capability': 'info', 'doc': 'reads',\n  'commands': [ 'guest-a', 'guest-b', 'guest-c' ] }\n",
        "schema.capabilities.json", "In capability class 'info': 'guest-c' is not a command of the schema: the schema does not define it (a root schema older than the command, or one that lost an include?)", 2, 39)]
    [InlineData("{ 'capability': 'info', 'doc': 'reads',\n  'commands': [ 'guest-a' ] }\n",
        "schema.json", "In command 'guest-b': command has no capability class: list it in /scenario/schema.capabilities.json under one of 'info'", 2, 1)]
    public void CapabilitiesSideFileErrorIsLocated(string side, string file, string message, int line, int column)
    {
        var run = GeneratorHarness.Run(
            new Dictionary<string, string>
            {
                ["schema.json"] = "{ 'command': 'guest-a' }\n{ 'command': 'guest-b' }\n",
                ["schema.capabilities.json"] = side,
            },
            "types,dispatch");
        var d = Assert.Single(run.Diagnostics);
        Assert.Equal("QG0001", d.Id);
        Assert.Equal(message, d.GetMessage(CultureInfo.InvariantCulture));
        var span = d.Location.GetLineSpan();
        Assert.Equal(GeneratorHarness.SchemaDir + file, span.Path);
        Assert.Equal(line - 1, span.StartLinePosition.Line);
        Assert.Equal(column - 1, span.StartLinePosition.Character);
        Assert.Empty(run.Result.Results.Single().GeneratedSources);
    }

    [Fact]
    public void MissingRootIsReported()
    {
        var driver = GeneratorHarness.Driver(
            GeneratorHarness.Files(new Dictionary<string, string> { ["other.json"] = "{ 'command': 'guest-ping' }" }),
            GeneratorHarness.Options("types", root: "/somewhere/qga.json"));
        driver = driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.Compilation(), out _, out var diagnostics);
        var d = Assert.Single(diagnostics);
        Assert.Equal("QG0002", d.Id);
        Assert.Equal("The schema root '/somewhere/qga.json' is not among the AdditionalFiles", d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void RootIsMatchedByFullPathOrFileName()
    {
        var files = GeneratorHarness.Files(new Dictionary<string, string>
        {
            ["qga.json"] = "{ 'include': 'mod.json' }",
            ["mod.json"] = "{ 'command': 'guest-ping' }",
        });
        foreach (var root in new[] { GeneratorHarness.SchemaDir + "qga.json", "qga.json" })
        {
            var driver = GeneratorHarness.Driver(files, GeneratorHarness.Options("client", root: root));
            driver = driver.RunGeneratorsAndUpdateCompilation(GeneratorHarness.Compilation(), out var output, out var diagnostics);
            Assert.Empty(diagnostics);
            Assert.Contains("GuestPingAsync", driver.GetRunResult().Results.Single().GeneratedSources.Single().SourceText.ToString());
        }
    }
}
