using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace QemuGuest.Generator.Tests;

/// <summary>Drives the generator with CSharpGeneratorDriver over in-memory schema files.</summary>
internal static class GeneratorHarness
{
    public const string SchemaDir = "/scenario/";

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        var tpa = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var refs = new List<MetadataReference>();
        foreach (var path in tpa)
        {
            string name = Path.GetFileNameWithoutExtension(path);
            if (name.StartsWith("System.", StringComparison.Ordinal) || name is "System" or "netstandard" or "mscorlib")
            {
                refs.Add(MetadataReference.CreateFromFile(path));
            }
        }
        refs.Add(MetadataReference.CreateFromFile(typeof(QemuGuest.Protocol.IQgaArguments).Assembly.Location));
        return refs.ToImmutableArray();
    });

    public static CSharpCompilation Compilation(params string[] sources) =>
        CSharpCompilation.Create(
            "Scenario",
            sources.Select(s => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Diagnose))),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static Dictionary<string, string> Options(string backends, string ns = "Scenario.Qga", string root = "schema.json") => new()
    {
        ["build_property.QemuGuestBackends"] = backends,
        ["build_property.QemuGuestNamespace"] = ns,
        ["build_property.QemuGuestSchemaRoot"] = root,
    };

    public static GeneratorDriver Driver(IEnumerable<AdditionalText> files, Dictionary<string, string> options) =>
        CSharpGeneratorDriver.Create(
            new[] { new QapiGenerator().AsSourceGenerator() },
            files,
            parseOptions: new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Diagnose),
            optionsProvider: new TestOptionsProvider(options),
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    public static AdditionalText[] Files(IDictionary<string, string> files) =>
        files.Select(kv => (AdditionalText)new MemoryAdditionalText(SchemaDir + kv.Key, kv.Value)).ToArray();

    /// <summary>Runs the generator; returns the run result and the output compilation.</summary>
    public static (GeneratorDriverRunResult Result, Compilation Output, ImmutableArray<Diagnostic> Diagnostics) Run(
        IDictionary<string, string> files, string backends, params string[] extraSources)
    {
        var driver = Driver(Files(files), Options(backends));
        driver = driver.RunGeneratorsAndUpdateCompilation(Compilation(extraSources), out var output, out var diagnostics);
        return (driver.GetRunResult(), output, diagnostics);
    }

    /// <summary>Compile errors and warnings of a compilation (nothing is acceptable).</summary>
    public static string[] Problems(Compilation compilation) =>
        compilation.GetDiagnostics()
            .Where(d => d.Severity >= DiagnosticSeverity.Warning)
            .Select(d => d.ToString())
            .ToArray();

    public static string TestsDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
