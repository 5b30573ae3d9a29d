using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Planning;

/// <summary>
/// Loads the PowerShell overlay next to the schema root ("qga.json" → "qga.powershell.json",
/// optional: without it every command gets its default name) and plans the cmdlets.
/// Overlay errors and naming clashes become diagnostics (QG01xx).
/// </summary>
internal static class PowerShellPlan
{
    /// <summary>The overlay's file name for a schema root path.</summary>
    public static string OverlayName(string rootPath)
    {
        string name = Path.GetFileName(rootPath.Replace('\\', '/'));
        return (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? name.Substring(0, name.Length - 5) : name) + ".powershell.json";
    }

    /// <summary>Null when an error was reported (nothing should be emitted).</summary>
    public static CmdletPlan? Load(
        ImmutableArray<SchemaFile> files,
        string rootPath,
        QapiSchema schema,
        List<DiagnosticInfo> diagnostics,
        Func<string, int, int, int> offsetOf)
    {
        string overlayName = OverlayName(rootPath);
        string rootDir = Path.GetDirectoryName(rootPath.Replace('\\', '/')) ?? string.Empty;
        SchemaFile? overlayFile = null;
        foreach (var f in files)
        {
            string p = f.Path.Replace('\\', '/');
            if (string.Equals(Path.GetFileName(p), overlayName, StringComparison.Ordinal))
            {
                // Prefer the one next to the root.
                if (overlayFile is null || string.Equals(Path.GetDirectoryName(p), rootDir, StringComparison.Ordinal))
                {
                    overlayFile = f;
                }
            }
        }

        PowerShellOverlay? overlay = null;
        if (overlayFile?.Text is { } text)
        {
            try
            {
                overlay = OverlayLoader.Load(overlayFile.Path, text, schema);
            }
            catch (SchemaError e)
            {
                string message = e.Context is null ? e.Message : e.Context + " " + e.Message;
                int offset = offsetOf(text, e.Location.Line, e.Location.Column);
                diagnostics.Add(new DiagnosticInfo(
                    DiagnosticDescriptors.OverlayError.Id,
                    new[] { message }.ToEquatableArray(),
                    e.Location.File ?? overlayFile.Path, e.Location.Line, e.Location.Column, offset, offset < text.Length ? 1 : 0));
                return null;
            }
        }

        var planned = new List<DiagnosticInfo>();
        var plan = CmdletPlanner.Plan(schema, overlay, planned);
        foreach (var d in planned)
        {
            string? fileText = null;
            foreach (var f in files)
            {
                if (d.File is not null && f.Path.Replace('\\', '/') == d.File.Replace('\\', '/'))
                {
                    fileText = f.Text;
                }
            }
            diagnostics.Add(fileText is null || d.Line <= 0 ? d : d with { Offset = offsetOf(fileText, d.Line, d.Column), Length = 1 });
        }
        return planned.Count > 0 ? null : plan;
    }
}
