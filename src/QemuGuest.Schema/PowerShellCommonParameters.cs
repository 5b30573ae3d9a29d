using System;
using System.Collections.Generic;

namespace QemuGuest.Schema;

/// <summary>
/// PowerShell's common and risk-mitigation parameters and their aliases (PowerShell 7.4+).
/// A cmdlet parameter (or alias) with one of these names fails when the cmdlet is invoked,
/// so the overlay checker rejects them and a generator picking default names must avoid them.
/// </summary>
public static class PowerShellCommonParameters
{
    /// <summary>Parameter name → its built-in aliases.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> NamesAndAliases { get; } = new[]
    {
        new KeyValuePair<string, string>("Verbose", "vb"),
        new KeyValuePair<string, string>("Debug", "db"),
        new KeyValuePair<string, string>("ErrorAction", "ea"),
        new KeyValuePair<string, string>("WarningAction", "wa"),
        new KeyValuePair<string, string>("InformationAction", "infa"),
        new KeyValuePair<string, string>("ProgressAction", "proga"),
        new KeyValuePair<string, string>("ErrorVariable", "ev"),
        new KeyValuePair<string, string>("WarningVariable", "wv"),
        new KeyValuePair<string, string>("InformationVariable", "iv"),
        new KeyValuePair<string, string>("OutVariable", "ov"),
        new KeyValuePair<string, string>("OutBuffer", "ob"),
        new KeyValuePair<string, string>("PipelineVariable", "pv"),
        new KeyValuePair<string, string>("WhatIf", "wi"),
        new KeyValuePair<string, string>("Confirm", "cf"),
    };

    private static readonly Dictionary<string, string> Lookup = Build();

    private static Dictionary<string, string> Build()
    {
        var d = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var kv in NamesAndAliases)
        {
            d[kv.Key] = kv.Key;
            d[kv.Value] = kv.Key;
        }
        return d;
    }

    /// <summary>The common parameter a name (or alias) would collide with, compared case-insensitively; null if none.</summary>
    public static string? Collides(string name) => Lookup.TryGetValue(name, out var p) ? p : null;
}
