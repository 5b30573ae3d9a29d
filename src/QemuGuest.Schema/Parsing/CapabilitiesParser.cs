using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;

namespace QemuGuest.Schema.Parsing;

/// <summary>One class of the capabilities side file as written; its names are checked against
/// the schema by the entity pass.</summary>
internal sealed class CapabilityClassDef
{
    public CapabilityClassDef(string name, SourceLocation location, string doc, List<QString> commands)
    {
        Name = name;
        Location = location;
        Doc = doc;
        Commands = commands;
    }

    public string Name { get; }

    public SourceLocation Location { get; }

    public string Doc { get; }

    public List<QString> Commands { get; }

    public string Context => "In capability class '" + Name + "':";
}

/// <summary>
/// Parses the capabilities side file (format: Model/Capabilities.cs) with the QAPI lexer: the
/// checks that need no schema (keys, shapes, class names, repeats within the file).
/// </summary>
internal static class CapabilitiesParser
{
    // Policies write a class as '@name' in comma-separated lists: keep names plain lower-case words.
    private static readonly Regex ClassName = new("^[a-z][a-z0-9-]*$", RegexOptions.CultureInvariant);

    public static List<CapabilityClassDef> Parse(string path, string text)
    {
        var classes = new List<CapabilityClassDef>();
        var byName = new Dictionary<string, CapabilityClassDef>(StringComparer.Ordinal);
        foreach (var (expr, loc) in new QapiParser(path, text).SideFileObjects())
        {
            var c = CheckOne(expr, loc);
            if (byName.TryGetValue(c.Name, out var prev))
            {
                throw new SchemaError(loc, "capability class '" + c.Name + "' is already declared\n" + prev.Location + ": previous definition", c.Context);
            }
            byName[c.Name] = c;
            classes.Add(c);
        }
        return classes;
    }

    private static CapabilityClassDef CheckOne(QDict expr, SourceLocation loc)
    {
        string? context = expr["capability"] is QString cs ? "In capability class '" + cs.Value + "':" : null;
        SchemaError Err(SourceLocation l, string msg) => new(l, msg, context);
        OverlayParser.CheckKeys(expr, loc, "capability class", new[] { "capability", "doc", "commands" }, Array.Empty<string>(), context);
        if (expr["capability"] is not QString nameNode)
        {
            throw Err(expr["capability"]!.Location, "'capability' must be a string");
        }
        if (!ClassName.IsMatch(nameNode.Value))
        {
            throw Err(nameNode.Location, "capability class name '" + nameNode.Value + "' is not a lower-case name (letters, digits, '-')");
        }
        if (expr["doc"] is not QString docNode || docNode.Value.Trim().Length == 0)
        {
            throw Err(expr["doc"]!.Location, "'doc' must be a non-empty string: say what the class lets a command do");
        }
        if (expr["commands"] is not QList list)
        {
            throw Err(expr["commands"]!.Location, "'commands' must be an array");
        }
        if (list.Items.Count == 0)
        {
            // A policy naming an empty class would match nothing and look like it worked.
            throw Err(list.Location, "'commands' lists no command");
        }
        var commands = new List<QString>();
        var seen = new Dictionary<string, QString>(StringComparer.Ordinal);
        foreach (var item in list.Items)
        {
            if (item is not QString s)
            {
                throw Err(item.Location, "'commands' members must be strings");
            }
            if (seen.TryGetValue(s.Value, out var first))
            {
                throw Err(s.Location, "command '" + s.Value + "' is listed twice\n" + first.Location + ": first listed here");
            }
            seen[s.Value] = s;
            commands.Add(s);
        }
        return new CapabilityClassDef(nameNode.Value, loc, docNode.Value, commands);
    }
}
