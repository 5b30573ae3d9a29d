using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace QemuGuest.Generator.Tests;

/// <summary>The pipeline caches: unrelated edits reuse every step; a schema edit re-runs them.</summary>
public sealed class IncrementalTests
{
    private static readonly string[] ModelSteps =
    {
        QapiGenerator.Steps.Schema, QapiGenerator.Steps.Sources, QapiGenerator.Steps.Diagnostics,
    };

    private static (GeneratorDriver Driver, Compilation Compilation) FirstRun(Dictionary<string, string> files)
    {
        var compilation = GeneratorHarness.Compilation("namespace User { public class A { } }");
        var driver = GeneratorHarness.Driver(GeneratorHarness.Files(files), GeneratorHarness.Options(BaselineTests.AllBackends));
        driver = driver.RunGenerators(compilation);
        return (driver, compilation);
    }

    private static IEnumerable<IncrementalStepRunReason> Reasons(GeneratorDriver driver, string step) =>
        driver.GetRunResult().Results.Single().TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason);

    [Fact]
    public void UnrelatedCSharpEditIsCached()
    {
        var (driver, compilation) = FirstRun(BaselineTests.ScenarioFiles("basic"));
        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace User { public class B { } }"));
        driver = driver.RunGenerators(edited);
        foreach (var step in ModelSteps)
        {
            Assert.All(Reasons(driver, step), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
        }
        Assert.All(Reasons(driver, QapiGenerator.Steps.SchemaFiles), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void SchemaEditIsModified()
    {
        var files = BaselineTests.ScenarioFiles("basic");
        var compilation = GeneratorHarness.Compilation("namespace User { public class A { } }");
        var original = GeneratorHarness.Files(files);
        var driver = GeneratorHarness.Driver(original, GeneratorHarness.Options(BaselineTests.AllBackends)).RunGenerators(compilation);
        var edited = new MemoryAdditionalText(original[0].Path, files["schema.json"] + "\n{ 'command': 'item-new' }\n");
        driver = driver.ReplaceAdditionalText(original[0], edited).RunGenerators(compilation);
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(driver, QapiGenerator.Steps.SchemaFiles));
        Assert.All(Reasons(driver, QapiGenerator.Steps.Schema), r => Assert.Equal(IncrementalStepRunReason.Modified, r));
        Assert.All(Reasons(driver, QapiGenerator.Steps.Sources), r => Assert.Equal(IncrementalStepRunReason.Modified, r));
        Assert.All(Reasons(driver, QapiGenerator.Steps.Diagnostics), r => Assert.Equal(IncrementalStepRunReason.Unchanged, r));
        Assert.Contains(driver.GetRunResult().Results.Single().GeneratedSources, s => s.SourceText.ToString().Contains("ItemNewAsync"));
    }

    [Fact]
    public void CommentOnlySchemaEditLeavesSourcesUnchanged()
    {
        var files = BaselineTests.ScenarioFiles("basic");
        var compilation = GeneratorHarness.Compilation("namespace User { public class A { } }");
        var original = GeneratorHarness.Files(files);
        var driver = GeneratorHarness.Driver(original, GeneratorHarness.Options(BaselineTests.AllBackends)).RunGenerators(compilation);
        var edited = new MemoryAdditionalText(original[0].Path, files["schema.json"] + "\n# only a comment\n");
        driver = driver.ReplaceAdditionalText(original[0], edited).RunGenerators(compilation);
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(driver, QapiGenerator.Steps.SchemaFiles));
        Assert.All(Reasons(driver, QapiGenerator.Steps.Schema), r => Assert.Equal(IncrementalStepRunReason.Unchanged, r));
        Assert.All(Reasons(driver, QapiGenerator.Steps.Sources), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }
}
