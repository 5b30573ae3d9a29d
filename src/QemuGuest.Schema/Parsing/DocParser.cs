using System.Collections.Generic;
using System.Text;
using System.Text.RegularExpressions;

namespace QemuGuest.Schema.Parsing;

/// <summary>One '@name:' (or tagged) section of a parsed doc block.</summary>
internal sealed class ParsedDocSection
{
    public ParsedDocSection(string name, string text, SourceLocation location)
    {
        Name = name;
        Text = text;
        Location = location;
    }

    public string Name { get; }

    public string Text { get; }

    public SourceLocation Location { get; }
}

/// <summary>A '##' block after parsing: free-form (no symbol) or for one definition.</summary>
internal sealed class ParsedDoc
{
    public ParsedDoc(SourceLocation location) => Location = location;

    public SourceLocation Location { get; }

    public string? Symbol { get; set; }

    public string Body { get; set; } = "";

    public List<ParsedDocSection> Args { get; } = new();

    public List<ParsedDocSection> Features { get; } = new();

    /// <summary>Tagged sections (Returns, Errors, Since, Note(s), Example(s), TODO) in order.</summary>
    public List<ParsedDocSection> Sections { get; } = new();

    public ParsedDocSection? Section(string name)
    {
        foreach (var s in Sections)
        {
            if (s.Name == name)
            {
                return s;
            }
        }
        return null;
    }

    public ParsedDocSection? Arg(string name)
    {
        foreach (var s in Args)
        {
            if (s.Name == name)
            {
                return s;
            }
        }
        return null;
    }

    public ParsedDocSection? Feature(string name)
    {
        foreach (var s in Features)
        {
            if (s.Name == name)
            {
                return s;
            }
        }
        return null;
    }

    public QapiDoc ToModel()
    {
        var other = new List<QapiDocSection>();
        foreach (var s in Sections)
        {
            if (s.Name is not ("Returns" or "Errors" or "Since"))
            {
                other.Add(new QapiDocSection(s.Name, s.Text));
            }
        }
        return new QapiDoc(
            Symbol ?? "",
            Body,
            Convert(Args),
            Convert(Features),
            Section("Returns")?.Text,
            Section("Errors")?.Text,
            Section("Since")?.Text,
            other.ToEquatableArray());
    }

    private static EquatableArray<QapiDocSection> Convert(List<ParsedDocSection> sections)
    {
        var list = new List<QapiDocSection>(sections.Count);
        foreach (var s in sections)
        {
            list.Add(new QapiDocSection(s.Name, s.Text));
        }
        return list.ToEquatableArray();
    }
}

/// <summary>
/// Turns the raw lines of a '##' block into a <see cref="ParsedDoc"/>, following QEMU's
/// QAPIDoc: a first line '@symbol:' makes it definition documentation; then body text,
/// '@member:' sections with continuation lines, 'Features:' with '@feature:' entries, and
/// tagged sections (Returns:, Errors:, Since:, Note:, Notes:, Example:, Examples:, TODO:).
/// Untagged paragraphs after the member sections are appended to the body, and so are
/// non-indented paragraphs after a tagged section (Since:, Returns:, ...) that already has
/// text; in legacy schemas (QEMU before 6.0) a tagged section runs to the next tag. The old-style
/// '#optional' marker in member text is accepted and dropped.
/// </summary>
internal static class DocParser
{
    private static readonly Regex ArgLine = new(@"^@(\S*):(\s|$)", RegexOptions.CultureInvariant);
    private static readonly Regex TagLine = new(@"^(Returns|Errors|Since|Notes?|Examples?|TODO):(\s|$)", RegexOptions.CultureInvariant);
    private static readonly Regex FreeFormArg = new(@"^(@\S+:)", RegexOptions.CultureInvariant);

    private enum State
    {
        Body,
        Args,
        Features,
        Tagged,
        Text,
    }

    public static bool HasSymbol(List<RawDocLine> lines)
    {
        foreach (var l in lines)
        {
            string t = Strip(l.Text);
            if (t.Length == 0)
            {
                continue;
            }
            return t.StartsWith("@", System.StringComparison.Ordinal);
        }
        return false;
    }

    public static bool HasText(List<RawDocLine> lines)
    {
        foreach (var l in lines)
        {
            if (Strip(l.Text).Trim().Length > 0)
            {
                return true;
            }
        }
        return false;
    }

    private static string Strip(string raw) => raw.Length >= 2 ? raw.Substring(2) : "";

    private sealed class Builder
    {
        public Builder(string name, SourceLocation location)
        {
            Name = name;
            Location = location;
        }

        public string Name { get; }

        public SourceLocation Location { get; }

        /// <summary>The text after the tag on its own line, then the continuation lines as written.</summary>
        public List<string> Lines { get; } = new();

        public void Append(string line) => Lines.Add(line.TrimEnd());

        /// <summary>
        /// Like current QEMU: the first non-blank continuation line sets the indentation, which
        /// is removed from every continuation line (deeper indentation, e.g. of nested list
        /// items, is kept). Works for QEMU's old style too, where continuations align with the
        /// text after the tag.
        /// </summary>
        public string Text()
        {
            int indent = -1;
            for (int i = 1; i < Lines.Count && indent < 0; i++)
            {
                if (Lines[i].Trim().Length > 0)
                {
                    indent = Lines[i].Length - Lines[i].TrimStart(' ').Length;
                }
            }
            var lines = new List<string>(Lines.Count) { Lines.Count > 0 ? Lines[0] : "" };
            for (int i = 1; i < Lines.Count; i++)
            {
                string l = Lines[i];
                int lead = l.Length - l.TrimStart(' ').Length;
                lines.Add(l.Substring(System.Math.Min(lead, System.Math.Max(indent, 0))));
            }
            return Finish(lines, skipFirst: true);
        }

        public bool HasText => Lines.Exists(l => l.Trim().Length > 0);
    }

    /// <summary>Joins lines, dedents the common indentation, drops leading/trailing blank lines.</summary>
    private static string Finish(List<string> lines, bool skipFirst = false)
    {
        int first = 0;
        while (first < lines.Count && lines[first].Trim().Length == 0)
        {
            first++;
        }
        int last = lines.Count - 1;
        while (last >= first && lines[last].Trim().Length == 0)
        {
            last--;
        }
        int common = int.MaxValue;
        for (int i = first; i <= last; i++)
        {
            // The first line of a section follows its tag and has no indentation of its own.
            if (i == 0 && skipFirst)
            {
                continue;
            }
            string l = lines[i];
            if (l.Trim().Length == 0)
            {
                continue;
            }
            int lead = 0;
            while (lead < l.Length && l[lead] == ' ')
            {
                lead++;
            }
            common = System.Math.Min(common, lead);
        }
        if (common == int.MaxValue)
        {
            common = 0;
        }
        var sb = new StringBuilder();
        for (int i = first; i <= last; i++)
        {
            string l = lines[i];
            if ((i > 0 || !skipFirst) && l.Length >= common)
            {
                l = l.Substring(common);
            }
            if (sb.Length > 0 || i > first)
            {
                sb.Append('\n');
            }
            sb.Append(l.TrimEnd());
        }
        return sb.ToString().Replace("#optional ", "").Replace("#optional", "").Trim();
    }

    public static ParsedDoc Parse(List<RawDocLine> raw, SourceLocation blockLocation, bool legacy = false)
    {
        var doc = new ParsedDoc(raw.Count > 0 ? raw[0].Location : blockLocation);
        var body = new List<string>();
        var text = new List<string>();
        Builder? section = null;
        var state = State.Body;
        bool sawContent = false;
        bool prevBlank = false;

        void EndSection()
        {
            if (section is null)
            {
                return;
            }
            string t = section.Text();
            if (t.Length == 0)
            {
                throw new SchemaError(section.Location, "empty doc section '" + section.Name + "'");
            }
            var done = new ParsedDocSection(section.Name, t, section.Location);
            if (state == State.Args)
            {
                doc.Args.Add(done);
            }
            else if (state == State.Features)
            {
                doc.Features.Add(done);
            }
            else
            {
                doc.Sections.Add(done);
            }
            section = null;
        }

        Builder StartSymbol(string line, SourceLocation loc, List<ParsedDocSection> existing, string name)
        {
            if (name.Length == 0)
            {
                throw new SchemaError(loc, "invalid parameter name");
            }
            foreach (var s in existing)
            {
                if (s.Name == name)
                {
                    throw new SchemaError(loc, "'" + name + "' parameter name duplicated");
                }
            }
            if (section is not null && section.Name == name && state is State.Args or State.Features)
            {
                throw new SchemaError(loc, "'" + name + "' parameter name duplicated");
            }
            int indent = name.Length + 2;
            while (indent < line.Length && line[indent] == ' ')
            {
                indent++;
            }
            string rest = line.Substring(indent);
            var b = new Builder(name, loc);
            b.Lines.Add(rest);
            return b;
        }

        foreach (var rl in raw)
        {
            string line = rl.Text.Substring(1);
            SourceLocation loc = rl.Location;
            if (line.Length > 0)
            {
                if (line[0] != ' ')
                {
                    throw new SchemaError(loc, "missing space after #");
                }
                line = line.Substring(1);
            }
            bool blank = line.Trim().Length == 0;

            if (!sawContent && !blank)
            {
                sawContent = true;
                if (line.StartsWith("@", System.StringComparison.Ordinal))
                {
                    if (!line.EndsWith(":", System.StringComparison.Ordinal))
                    {
                        throw new SchemaError(loc, "line should end with ':'");
                    }
                    string symbol = line.Substring(1, line.Length - 2);
                    if (symbol.Length == 0)
                    {
                        throw new SchemaError(loc, "invalid name");
                    }
                    doc.Symbol = symbol;
                    prevBlank = false;
                    continue;
                }
            }

            if (doc.Symbol is null)
            {
                // Free-form documentation.
                var m = FreeFormArg.Match(line);
                if (m.Success)
                {
                    throw new SchemaError(loc, "'" + m.Groups[1].Value + "' not allowed in free-form documentation");
                }
                body.Add(line);
                prevBlank = blank;
                continue;
            }

            var arg = ArgLine.Match(line);
            var tag = TagLine.Match(line);
            if (arg.Success)
            {
                string name = arg.Groups[1].Value;
                if (state == State.Tagged)
                {
                    throw new SchemaError(loc, "'@" + name + ":' can't follow '" + section!.Name + "' section");
                }
                if (state == State.Features)
                {
                    EndSection();
                    section = StartSymbol(line, loc, doc.Features, name);
                }
                else
                {
                    EndSection();
                    state = State.Args;
                    section = StartSymbol(line, loc, doc.Args, name);
                }
            }
            else if (line == "Features:")
            {
                if (state == State.Tagged)
                {
                    throw new SchemaError(loc, "'Features:' can't follow '" + section!.Name + "' section");
                }
                EndSection();
                state = State.Features;
            }
            else if (tag.Success)
            {
                string name = tag.Groups[1].Value;
                if (name is "Returns" or "Since" or "Errors" && (doc.Section(name) is not null || section?.Name == name && state == State.Tagged))
                {
                    throw new SchemaError(loc, "duplicated '" + name + "' section");
                }
                EndSection();
                state = State.Tagged;
                int indent = name.Length + 1;
                while (indent < line.Length && line[indent] == ' ')
                {
                    indent++;
                }
                string rest = line.Substring(indent);
                section = new Builder(name, loc);
                section.Lines.Add(rest);
            }
            else if (state == State.Body)
            {
                body.Add(line);
            }
            else if (state == State.Text)
            {
                text.Add(line);
            }
            else if ((state == State.Args || state == State.Features || (state == State.Tagged && !legacy && section!.HasText)) && prevBlank && !blank && line[0] != ' ')
            {
                // A non-indented paragraph after member sections, or (current QEMU rules) after a
                // tagged section that already has text: more body text, not part of the section.
                EndSection();
                state = State.Text;
                if (text.Count > 0)
                {
                    text.Add("");
                }
                text.Add(line);
            }
            else if (section is not null)
            {
                section.Append(line);
            }
            else
            {
                // 'Features:' line followed by text that is not a feature.
                if (!blank)
                {
                    EndSection();
                    state = State.Text;
                    text.Add(line);
                }
            }
            prevBlank = blank;
        }
        EndSection();

        string bodyText = Finish(body);
        string extra = Finish(text);
        doc.Body = extra.Length == 0 ? bodyText : bodyText.Length == 0 ? extra : bodyText + "\n\n" + extra;
        return doc;
    }
}
