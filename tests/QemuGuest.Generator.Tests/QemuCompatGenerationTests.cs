using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace QemuGuest.Generator.Tests;

/// <summary>
/// A user drops QEMU's own qga schema in unchanged and gets working code: the schema-test
/// corpus's qemu-compat.json (every construct QEMU's current qga/qapi-schema.json uses, in its
/// style) must go through every backend without diagnostics and compile without warnings.
/// </summary>
public sealed class QemuCompatGenerationTests
{
    private static string QemuCompatSchema() =>
        File.ReadAllText(Path.Combine(GeneratorHarness.TestsDirectory(), "..", "QemuGuest.Schema.Tests", "valid", "qemu-compat.json"));

    [Fact]
    public void QemuStyleSchemaGeneratesCleanCodeForEveryBackend()
    {
        var files = new Dictionary<string, string> { ["schema.json"] = QemuCompatSchema() };
        var (result, output, diagnostics) = GeneratorHarness.Run(files, BaselineTests.AllBackends);

        Assert.Empty(diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).Select(d => d.ToString()));
        var hints = result.Results.Single().GeneratedSources.Select(s => s.HintName).OrderBy(h => h).ToArray();
        Assert.Equal(new[] { "Qga.Client.g.cs", "Qga.Dispatch.g.cs", "Qga.Types.g.cs", "Qga.Validation.g.cs" }, hints);
        Assert.Empty(GeneratorHarness.Problems(output));

        // Every command of the schema has a client stub and a handler method.
        var schema = QemuGuest.Schema.SchemaLoader.Load("schema.json", p => Path.GetFileName(p) == "schema.json" ? files["schema.json"] : null);
        string client = result.Results.Single().GeneratedSources.Single(s => s.HintName == "Qga.Client.g.cs").SourceText.ToString();
        string dispatch = result.Results.Single().GeneratedSources.Single(s => s.HintName == "Qga.Dispatch.g.cs").SourceText.ToString();
        var commands = schema.Commands.ToArray();
        Assert.NotEmpty(commands);
        foreach (var c in commands)
        {
            string method = QemuGuest.Schema.Naming.ToPascalCase(c.Name) + "Async(";
            Assert.Contains(method, client);
            Assert.Contains(method, dispatch);
        }
    }
}
