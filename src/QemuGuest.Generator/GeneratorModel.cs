using System;
using System.Collections.Generic;
using QemuGuest.Schema;

namespace QemuGuest.Generator;

/// <summary>The backends a consuming project can ask for in QemuGuestBackends.</summary>
internal static class Backends
{
    public const string Types = "types";
    public const string Client = "client";
    public const string Dispatch = "dispatch";
    public const string Validation = "validation";
    public const string Cmdlets = "cmdlets";
    public const string Help = "help";

    public static readonly string[] Known = { Types, Client, Dispatch, Validation, Cmdlets, Help };

    /// <summary>The namespace generated types live in when this project does not generate them.</summary>
    public const string DefaultTypesNamespace = "QemuGuest.Protocol.Qga";
}

/// <summary>The project's generator settings (compiler-visible MSBuild properties), value-equal.</summary>
internal sealed record GeneratorOptions(
    EquatableArray<string> Backends,
    EquatableArray<string> UnknownBackends,
    string Namespace,
    string TypesNamespace,
    string SchemaRoot)
{
    public bool Has(string backend)
    {
        foreach (var b in Backends)
        {
            if (b == backend)
            {
                return true;
            }
        }
        return false;
    }

    public static GeneratorOptions Create(string? backends, string? ns, string? typesNs, string? root)
    {
        var known = new List<string>();
        var unknown = new List<string>();
        foreach (var raw in (backends ?? string.Empty).Split(new[] { ';', ',' }, StringSplitOptions.RemoveEmptyEntries))
        {
            string b = raw.Trim().ToLowerInvariant();
            if (b.Length == 0 || known.Contains(b) || unknown.Contains(b))
            {
                continue;
            }
            (Array.IndexOf(Generator.Backends.Known, b) >= 0 ? known : unknown).Add(b);
        }
        string nsValue = string.IsNullOrWhiteSpace(ns) ? "QemuGuest.Qga" : ns!.Trim();
        string typesValue = known.Contains(Generator.Backends.Types)
            ? nsValue
            : string.IsNullOrWhiteSpace(typesNs) ? Generator.Backends.DefaultTypesNamespace : typesNs!.Trim();
        return new GeneratorOptions(
            known.ToEquatableArray(),
            unknown.ToEquatableArray(),
            nsValue,
            typesValue,
            string.IsNullOrWhiteSpace(root) ? "qga.json" : root!.Trim());
    }
}

/// <summary>One AdditionalFile's path and text, value-equal.</summary>
internal sealed record SchemaFile(string Path, string? Text);

/// <summary>A diagnostic as plain data (no Roslyn Location inside, so the pipeline can cache).</summary>
internal sealed record DiagnosticInfo(string Id, EquatableArray<string> Arguments, string? File, int Line, int Column, int Offset, int Length);

/// <summary>The checked schema plus the options it is generated with: the input of every backend.</summary>
internal sealed record GenerationModel(QapiSchema Schema, GeneratorOptions Options)
{
    /// <summary>The cmdlet shapes (schema + PowerShell overlay), when the cmdlets or help backend is selected.</summary>
    public Planning.CmdletPlan? Cmdlets { get; init; }
}

/// <summary>The outcome of loading: a model to emit from (null on error) and diagnostics.</summary>
internal sealed record LoadResult(GenerationModel? Model, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>One generated file.</summary>
internal sealed record GeneratedSource(string HintName, string Text);
