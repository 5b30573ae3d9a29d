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
    public static QapiSchema Load(string rootPath, Func<string, string?> readFile)
    {
        var reader = new Parsing.SchemaReader(readFile);
        reader.ReadRoot(rootPath);
        return Checking.SchemaChecker.Check(reader);
    }

    /// <summary>
    /// The spelling of a path that <see cref="Load"/> passes to <c>readFile</c> and shows in
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
