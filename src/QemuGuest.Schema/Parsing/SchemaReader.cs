using System;
using System.Collections.Generic;

namespace QemuGuest.Schema.Parsing;

/// <summary>The pragmas as set so far (QEMU: a later pragma of the same name replaces the earlier).</summary>
internal sealed class PragmaState
{
    public bool DocRequired { get; set; }

    public List<string> CommandNameExceptions { get; set; } = new();

    public List<string> CommandReturnsExceptions { get; set; } = new();

    public List<string> DocumentationExceptions { get; set; } = new();

    public List<string> MemberNameExceptions { get; set; } = new();

    /// <summary>
    /// Set when the schema uses QEMU's pre-6.0 pragma names ('returns-whitelist',
    /// 'name-case-whitelist'): such schemas were written against the older rules, which allowed
    /// '_' in lower-case names and did not require every member to be documented.
    /// </summary>
    public bool Legacy { get; set; }

    /// <summary>
    /// Only what current QEMU's scripts/qapi accepts: none of the older forms above or in the
    /// expression checks ('type', list or 'defined()' conditions), doc line rules everywhere.
    /// </summary>
    public bool Upstream { get; set; }

    public QapiPragmas ToModel() => new(
        DocRequired,
        CommandNameExceptions.ToEquatableArray(),
        CommandReturnsExceptions.ToEquatableArray(),
        DocumentationExceptions.ToEquatableArray(),
        MemberNameExceptions.ToEquatableArray());
}

/// <summary>
/// Reads the root file and everything it includes, in order: 'include' is relative to the
/// including file, including a file a second time is a no-op, and an include cycle is an
/// error. Pragmas are applied as they are met. No file IO: all reading goes through the callback.
/// </summary>
internal sealed class SchemaReader
{
    private readonly Func<string, string?> _readFile;
    private readonly HashSet<string> _included = new(StringComparer.Ordinal);
    private readonly List<string> _stack = new();

    public SchemaReader(Func<string, string?> readFile, bool upstream)
    {
        _readFile = readFile;
        Pragma.Upstream = upstream;
    }

    public List<ParsedExpr> Exprs { get; } = new();

    public List<ParsedDoc> Docs { get; } = new();

    public List<string> Files { get; } = new();

    public PragmaState Pragma { get; } = new();

    /// <summary>The classes of the capabilities side file; null when there is none.</summary>
    public List<CapabilityClassDef>? Capabilities { get; private set; }

    public string? CapabilitiesPath { get; private set; }

    public void ReadRoot(string rootPath)
    {
        string path = NormalizePath(rootPath);
        string? text = _readFile(path);
        if (text is null)
        {
            throw new SchemaError(new SourceLocation(path, 1, 1), "can't read schema file '" + path + "': No such file or directory");
        }
        ParseFile(path, text);
    }

    /// <summary>Reads the capabilities side file when <paramref name="path"/> names one that exists.</summary>
    public void ReadCapabilities(string? path)
    {
        if (path is null)
        {
            return;
        }
        path = NormalizePath(path);
        if (_readFile(path) is not { } text)
        {
            return;
        }
        Files.Add(path);
        CapabilitiesPath = path;
        Capabilities = CapabilitiesParser.Parse(path, text);
    }

    /// <summary>Joins a relative include to the including file's folder and removes '.' and '..' segments.</summary>
    public static string ResolveInclude(string includingFile, string include)
    {
        string inc = include.Replace('\\', '/');
        if (inc.StartsWith("/", StringComparison.Ordinal) || (inc.Length > 1 && inc[1] == ':'))
        {
            return NormalizePath(inc);
        }
        string dir = includingFile.Replace('\\', '/');
        int slash = dir.LastIndexOf('/');
        dir = slash >= 0 ? dir.Substring(0, slash + 1) : "";
        return NormalizePath(dir + inc);
    }

    public static string NormalizePath(string path)
    {
        string p = path.Replace('\\', '/');
        bool absolute = p.StartsWith("/", StringComparison.Ordinal);
        var parts = new List<string>();
        foreach (string seg in p.Split('/'))
        {
            if (seg.Length == 0 || seg == ".")
            {
                continue;
            }
            if (seg == ".." && parts.Count > 0 && parts[parts.Count - 1] != "..")
            {
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            if (seg == ".." && absolute)
            {
                continue;
            }
            parts.Add(seg);
        }
        string joined = string.Join("/", parts);
        if (p.StartsWith("//", StringComparison.Ordinal))
        {
            // A UNC path (\\server\share\...) keeps both leading separators.
            return "//" + joined;
        }
        return absolute ? "/" + joined : joined;
    }

    private void ParseFile(string path, string text)
    {
        _included.Add(path);
        _stack.Add(path);
        Files.Add(path);
        var p = new QapiParser(path, text);
        p.Accept();
        ParsedDoc? curDoc = null;
        while (p.Tok != QapiParser.Eof)
        {
            SourceLocation loc = p.TokLocation;
            if (p.Tok == '#')
            {
                RejectExprDoc(curDoc);
                foreach (var raw in p.GetDoc(checkFormat: Pragma.Upstream || !Pragma.Legacy))
                {
                    curDoc = DocParser.Parse(raw, loc, Pragma.Legacy);
                    Docs.Add(curDoc);
                }
                continue;
            }

            QNode node = p.GetExpr();
            if (node is not QDict expr)
            {
                throw new SchemaError(loc, "top-level expression must be an object");
            }

            if (expr.Has("include"))
            {
                RejectExprDoc(curDoc);
                if (expr.Count != 1)
                {
                    throw new SchemaError(loc, "invalid 'include' directive");
                }
                if (expr["include"] is not QString include)
                {
                    throw new SchemaError(loc, "value of 'include' must be a string");
                }
                Include(include.Value, loc, path);
            }
            else if (expr.Has("pragma"))
            {
                RejectExprDoc(curDoc);
                if (expr.Count != 1)
                {
                    throw new SchemaError(loc, "invalid 'pragma' directive");
                }
                if (expr["pragma"] is not QDict pragma)
                {
                    throw new SchemaError(loc, "value of 'pragma' must be an object");
                }
                foreach (var e in pragma.Entries)
                {
                    ApplyPragma(e.Key, e.Value, e.KeyLocation);
                }
            }
            else
            {
                if (curDoc is not null && curDoc.Symbol is null)
                {
                    throw new SchemaError(curDoc.Location, "definition documentation required");
                }
                Exprs.Add(new ParsedExpr(expr, loc, curDoc));
            }
            curDoc = null;
        }
        RejectExprDoc(curDoc);
        _stack.RemoveAt(_stack.Count - 1);
    }

    private static void RejectExprDoc(ParsedDoc? doc)
    {
        if (doc?.Symbol is not null)
        {
            throw new SchemaError(doc.Location, "documentation for '" + doc.Symbol + "' is not followed by the definition");
        }
    }

    private void Include(string include, SourceLocation loc, string includingFile)
    {
        string path = ResolveInclude(includingFile, include);
        if (_stack.Contains(path))
        {
            throw new SchemaError(loc, "inclusion loop for " + include);
        }
        if (_included.Contains(path))
        {
            return;
        }
        string? text = _readFile(path);
        if (text is null)
        {
            throw new SchemaError(loc, "can't read include file '" + path + "': No such file or directory");
        }
        ParseFile(path, text);
    }

    private void ApplyPragma(string name, QNode value, SourceLocation loc)
    {
        List<string> ListOfStrings()
        {
            var list = new List<string>();
            if (value is QList l)
            {
                foreach (var item in l.Items)
                {
                    if (item is not QString s)
                    {
                        throw new SchemaError(loc, "pragma " + name + " must be a list of strings");
                    }
                    list.Add(s.Value);
                }
                return list;
            }
            throw new SchemaError(loc, "pragma " + name + " must be a list of strings");
        }

        switch (name)
        {
            case "doc-required":
                if (value is not QBool b)
                {
                    throw new SchemaError(loc, "pragma 'doc-required' must be boolean");
                }
                Pragma.DocRequired = b.Value;
                break;
            case "command-name-exceptions":
                Pragma.CommandNameExceptions = ListOfStrings();
                break;
            case "command-returns-exceptions":
                Pragma.CommandReturnsExceptions = ListOfStrings();
                break;
            case "documentation-exceptions":
                Pragma.DocumentationExceptions = ListOfStrings();
                break;
            case "member-name-exceptions":
                Pragma.MemberNameExceptions = ListOfStrings();
                break;
            case "returns-whitelist" when !Pragma.Upstream:
                // QEMU before 6.0: the old name of command-returns-exceptions.
                Pragma.CommandReturnsExceptions = ListOfStrings();
                Pragma.Legacy = true;
                break;
            case "name-case-whitelist" when !Pragma.Upstream:
                // QEMU before 6.0: the old name of member-name-exceptions.
                Pragma.MemberNameExceptions = ListOfStrings();
                Pragma.Legacy = true;
                break;
            default:
                throw new SchemaError(loc, "unknown pragma '" + name + "'");
        }
    }
}
