using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using QemuGuest.Generator.Emit;
using QemuGuest.Generator.Planning;
using QemuGuest.Schema;

namespace QemuGuest.Generator;

/// <summary>
/// The QAPI incremental generator. Pipeline (System.Text.Json generator shape):
/// AdditionalFiles (*.json) → [SchemaFiles] path+text → Collect + [Options] (QemuGuestBackends,
/// QemuGuestNamespace, QemuGuestSchemaRoot) → [Schema] SchemaLoader.Load over those texts →
/// value-equal <see cref="LoadResult"/> → [Sources] the selected backends' text, and separately
/// [Diagnostics]. Nothing Roslyn-typed is cached between steps.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class QapiGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline steps (tests assert their caching).</summary>
    public static class Steps
    {
        public const string SchemaFiles = nameof(SchemaFiles);
        public const string Options = nameof(Options);
        public const string Schema = nameof(Schema);
        public const string Sources = nameof(Sources);
        public const string Diagnostics = nameof(Diagnostics);
    }

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var options = context.AnalyzerConfigOptionsProvider
            .Select(static (p, _) => ReadOptions(p.GlobalOptions))
            .WithTrackingName(Steps.Options);

        var files = context.AdditionalTextsProvider
            .Where(static t => t.Path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            .Select(static (t, ct) => new SchemaFile(t.Path, t.GetText(ct)?.ToString()))
            .WithTrackingName(Steps.SchemaFiles)
            .Collect();

        var loaded = files.Combine(options)
            .Select(static (pair, ct) => Load(pair.Left, pair.Right, ct))
            .WithTrackingName(Steps.Schema);

        var sources = loaded
            .Select(static (r, ct) => r.Model is null ? EquatableArray<GeneratedSource>.Empty : Emit(r.Model, ct))
            .WithTrackingName(Steps.Sources);

        var diagnostics = loaded
            .Select(static (r, _) => r.Diagnostics)
            .WithTrackingName(Steps.Diagnostics);

        context.RegisterSourceOutput(sources, static (spc, list) =>
        {
            foreach (var s in list)
            {
                spc.AddSource(s.HintName, SourceText.From(s.Text, System.Text.Encoding.UTF8));
            }
        });

        context.RegisterSourceOutput(diagnostics, static (spc, list) =>
        {
            foreach (var d in list)
            {
                spc.ReportDiagnostic(ToDiagnostic(d));
            }
        });
    }

    internal static GeneratorOptions ReadOptions(AnalyzerConfigOptions o)
    {
        o.TryGetValue("build_property.QemuGuestBackends", out var backends);
        o.TryGetValue("build_property.QemuGuestNamespace", out var ns);
        o.TryGetValue("build_property.QemuGuestTypesNamespace", out var typesNs);
        o.TryGetValue("build_property.QemuGuestSchemaRoot", out var root);
        return GeneratorOptions.Create(backends, ns, typesNs, root);
    }

    internal static LoadResult Load(ImmutableArray<SchemaFile> files, GeneratorOptions options, CancellationToken ct)
    {
        var diagnostics = new List<DiagnosticInfo>();
        foreach (var b in options.UnknownBackends)
        {
            diagnostics.Add(new DiagnosticInfo(
                DiagnosticDescriptors.UnknownBackend.Id,
                new[] { b, string.Join(", ", Backends.Known) }.ToEquatableArray(),
                null, 0, 0, 0, 0));
        }
        if (options.Backends.IsEmpty)
        {
            return new LoadResult(null, diagnostics.ToEquatableArray());
        }

        var byPath = new Dictionary<string, SchemaFile>(StringComparer.Ordinal);
        foreach (var f in files)
        {
            byPath[Normalize(f.Path)] = f;
        }
        SchemaFile? root = FindRoot(files, options.SchemaRoot);
        if (root is null)
        {
            diagnostics.Add(new DiagnosticInfo(
                DiagnosticDescriptors.SchemaRootNotFound.Id,
                new[] { options.SchemaRoot }.ToEquatableArray(),
                null, 0, 0, 0, 0));
            return new LoadResult(null, diagnostics.ToEquatableArray());
        }

        try
        {
            ct.ThrowIfCancellationRequested();
            var schema = SchemaLoader.Load(root.Path, path => byPath.TryGetValue(Normalize(path), out var f) ? f.Text : null);
            var problems = NameCheck.Check(schema, options);
            problems.AddRange(ConfigSymbols.Check(schema));
            if (problems.Count > 0)
            {
                foreach (var c in problems)
                {
                    diagnostics.Add(Locate(c, byPath));
                }
                return new LoadResult(null, diagnostics.ToEquatableArray());
            }
            var model = new GenerationModel(schema, options);
            if (options.Has(Backends.Cmdlets) || options.Has(Backends.Help))
            {
                // The PowerShell backends also read the overlay ROOT.powershell.json (optional).
                var plan = PowerShellPlan.Load(files, root.Path, schema, diagnostics, OffsetOf);
                if (plan is null)
                {
                    return new LoadResult(null, diagnostics.ToEquatableArray());
                }
                model = model with { Cmdlets = plan };
            }
            return new LoadResult(model, diagnostics.ToEquatableArray());
        }
        catch (SchemaError e)
        {
            string message = e.Context is null ? e.Message : e.Context + " " + e.Message;
            var loc = e.Location;
            int offset = 0;
            int length = 0;
            if (loc.File is not null && byPath.TryGetValue(Normalize(loc.File), out var file) && file.Text is not null)
            {
                offset = OffsetOf(file.Text, loc.Line, loc.Column);
                length = offset < file.Text.Length ? 1 : 0;
            }
            diagnostics.Add(new DiagnosticInfo(
                DiagnosticDescriptors.SchemaError.Id,
                new[] { message }.ToEquatableArray(),
                loc.File, loc.Line, loc.Column, offset, length));
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception e)
        {
            diagnostics.Add(new DiagnosticInfo(
                DiagnosticDescriptors.InternalError.Id,
                new[] { e.GetType().Name + ": " + e.Message }.ToEquatableArray(),
                null, 0, 0, 0, 0));
        }
        return new LoadResult(null, diagnostics.ToEquatableArray());
    }

    internal static EquatableArray<GeneratedSource> Emit(GenerationModel model, CancellationToken ct)
    {
        var list = new List<GeneratedSource>();
        var types = new TypeMap(model.Schema, model.Options);
        if (model.Options.Has(Backends.Types))
        {
            list.Add(new GeneratedSource("Qga.Types.g.cs", TypesEmitter.Emit(types)));
        }
        ct.ThrowIfCancellationRequested();
        if (model.Options.Has(Backends.Client))
        {
            list.Add(new GeneratedSource("Qga.Client.g.cs", ClientEmitter.Emit(types)));
        }
        if (model.Options.Has(Backends.Dispatch))
        {
            list.Add(new GeneratedSource("Qga.Dispatch.g.cs", DispatchEmitter.Emit(types)));
        }
        if (model.Options.Has(Backends.Validation))
        {
            list.Add(new GeneratedSource("Qga.Validation.g.cs", ValidationEmitter.Emit(types)));
        }
        if (model.Options.Has(Backends.Cmdlets) && model.Cmdlets is not null)
        {
            list.Add(new GeneratedSource("Qga.Cmdlets.g.cs", CmdletsEmitter.Emit(types, model.Cmdlets)));
        }
        if (model.Options.Has(Backends.Help) && model.Cmdlets is not null)
        {
            list.Add(new GeneratedSource("Qga.Help.g.cs", HelpEmitter.Emit(types, model.Cmdlets)));
        }
        return list.ToEquatableArray();
    }

    private static DiagnosticInfo Locate(DiagnosticInfo d, Dictionary<string, SchemaFile> byPath)
    {
        if (d.File is not null && byPath.TryGetValue(Normalize(d.File), out var file) && file.Text is not null)
        {
            int offset = OffsetOf(file.Text, d.Line, d.Column);
            return d with { Offset = offset, Length = offset < file.Text.Length ? 1 : 0 };
        }
        return d;
    }

    private static SchemaFile? FindRoot(ImmutableArray<SchemaFile> files, string root)
    {
        string wanted = Normalize(root);
        foreach (var f in files)
        {
            if (Normalize(f.Path) == wanted)
            {
                return f;
            }
        }
        string name = Path.GetFileName(wanted);
        foreach (var f in files)
        {
            if (string.Equals(Path.GetFileName(Normalize(f.Path)), name, StringComparison.Ordinal))
            {
                return f;
            }
        }
        return null;
    }

    private static string Normalize(string path)
    {
        string p = path.Replace('\\', '/');
        try
        {
            if (Path.IsPathRooted(p))
            {
                p = Path.GetFullPath(p).Replace('\\', '/');
            }
        }
        catch (ArgumentException)
        {
        }
        return p;
    }

    internal static int OffsetOf(string text, int line, int column)
    {
        int offset = 0;
        for (int l = 1; l < line && offset < text.Length; l++)
        {
            int nl = text.IndexOf('\n', offset);
            if (nl < 0)
            {
                return text.Length;
            }
            offset = nl + 1;
        }
        return Math.Min(text.Length, offset + Math.Max(0, column - 1));
    }

    private static Diagnostic ToDiagnostic(DiagnosticInfo d)
    {
        var descriptor = DiagnosticDescriptors.Find(d.Id) ?? DiagnosticDescriptors.InternalError;
        Location location = Location.None;
        if (d.File is not null && d.Line > 0)
        {
            var start = new LinePosition(d.Line - 1, Math.Max(0, d.Column - 1));
            var end = new LinePosition(d.Line - 1, Math.Max(0, d.Column - 1) + d.Length);
            location = Location.Create(d.File, new TextSpan(d.Offset, d.Length), new LinePositionSpan(start, end));
        }
        object[] args = new object[d.Arguments.Count];
        for (int i = 0; i < args.Length; i++)
        {
            args[i] = d.Arguments[i];
        }
        return Diagnostic.Create(descriptor, location, args);
    }
}
