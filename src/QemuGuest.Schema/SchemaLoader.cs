using System;

namespace QemuGuest.Schema;

/// <summary>
/// Entry point: parse a root schema file (following includes through a file-reading callback)
/// and check it into a <see cref="QapiSchema"/>. Throws <see cref="SchemaError"/> on the first error.
/// </summary>
public static class SchemaLoader
{
    /// <param name="rootPath">Path of the root file, as it should appear in error messages.</param>
    /// <param name="readFile">Returns the text of a file by path, or null if it does not exist.
    /// Include paths are resolved relative to the including file before this is called.</param>
    /// <remarks>
    /// Also reads the capabilities side file next to the root (<see cref="CapabilitiesName"/>)
    /// through <paramref name="readFile"/> when it exists; without one, commands have no classes.
    /// </remarks>
    public static QapiSchema Load(string rootPath, Func<string, string?> readFile) =>
        Load(rootPath, readFile, CapabilitiesName(rootPath));

    /// <param name="rootPath">Path of the root file, as it should appear in error messages.</param>
    /// <param name="readFile">As for <see cref="Load(string, Func{string, string?})"/>.</param>
    /// <param name="capabilitiesPath">The capabilities side file to read (format: Model/Capabilities.cs),
    /// or null for none.</param>
    public static QapiSchema Load(string rootPath, Func<string, string?> readFile, string? capabilitiesPath)
    {
        var reader = new Parsing.SchemaReader(readFile, upstream: false);
        reader.ReadRoot(rootPath);
        reader.ReadCapabilities(capabilitiesPath);
        return Checking.SchemaChecker.Check(reader);
    }

    /// <summary>
    /// Reads the QAPI files only, accepting only what current QEMU's scripts/qapi accepts: its
    /// keys and pragmas (no 'type' for 'struct', no old pragma names, no list or 'defined()' in
    /// 'if') and its doc line rules everywhere. No side file is read. A schema that loads here
    /// is one QEMU's own tooling can take; CI proves that of schema/qga.json this way.
    /// </summary>
    public static QapiSchema LoadUpstream(string rootPath, Func<string, string?> readFile)
    {
        var reader = new Parsing.SchemaReader(readFile, upstream: true);
        reader.ReadRoot(rootPath);
        return Checking.SchemaChecker.Check(reader);
    }

    /// <summary>The capabilities side file's path for a root path ("qga.json" → "qga.capabilities.json").</summary>
    public static string CapabilitiesName(string rootPath)
    {
        string p = Parsing.SchemaReader.NormalizePath(rootPath);
        return (p.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? p.Substring(0, p.Length - 5) : p) + ".capabilities.json";
    }

    /// <summary>
    /// The spelling of a path that <see cref="Load(string, Func{string, string?})"/> passes to <c>readFile</c> and shows in
    /// messages: '/' separators, no '.' or '..' segments (leading '..' of a relative path kept).
    /// Includes are joined to the including file's folder and then normalised like this, so a
    /// caller holding files by path (e.g. a generator's AdditionalTexts) should key them by it.
    /// </summary>
    public static string NormalizePath(string path) => Parsing.SchemaReader.NormalizePath(path);
}

/// <summary>Parses and checks a PowerShell overlay against a checked schema.</summary>
public static class OverlayLoader
{
    /// <summary>
    /// Throws <see cref="SchemaError"/> for unknown keys, unknown commands or members,
    /// unapproved verbs, bad confirm-impact values, duplicate positions.
    /// </summary>
    public static PowerShellOverlay Load(string path, string text, QapiSchema schema) =>
        Parsing.OverlayParser.Parse(path, text, schema);
}
