using System.Collections.Generic;
using System.Text;

namespace QemuGuest.Schema.Parsing;

/// <summary>One raw line of a '##' block, as written ("# text"), with where it was.</summary>
internal readonly record struct RawDocLine(string Text, SourceLocation Location);

/// <summary>A top-level definition expression with the doc block written right before it.</summary>
internal sealed class ParsedExpr
{
    public ParsedExpr(QDict expr, SourceLocation location, ParsedDoc? doc)
    {
        Expr = expr;
        Location = location;
        Doc = doc;
    }

    public QDict Expr { get; }

    public SourceLocation Location { get; }

    public ParsedDoc? Doc { get; }
}

/// <summary>
/// QEMU's scripts/qapi/parser.py lexer and parser for one file: single-quoted strings (only the
/// escape \\; printable ASCII only), true/false, objects, arrays, '#' comments and '##' doc
/// blocks; no numbers and no null (the overlay dialect additionally allows integers).
/// Errors carry the line and column of the offending token.
/// </summary>
internal sealed class QapiParser
{
    public const char Eof = '\0';

    private readonly string _file;
    private readonly string _src;
    private readonly bool _allowNumbers;
    private int _cursor;
    private int _lineStart;
    private int _line = 1;

    public QapiParser(string file, string text, bool allowNumbers = false)
    {
        _file = file;
        _allowNumbers = allowNumbers;
        // Files checked out with CRLF (or saved with a BOM) parse exactly like their LF twins.
        if (text.Length > 0 && text[0] == '\uFEFF')
        {
            text = text.Substring(1);
        }
        text = text.Replace("\r\n", "\n");
        _src = text.Length == 0 || text[text.Length - 1] != '\n' ? text + "\n" : text;
    }

    /// <summary>The current token: one of {}:,[] , '\'' (string), 't'/'f' (bool), '0' (integer), '#' (comment), or <see cref="Eof"/>.</summary>
    public char Tok { get; private set; }

    public object? Val { get; private set; }

    /// <summary>Buffer index of the first character of the current token.</summary>
    public int Pos { get; private set; }

    public SourceLocation TokLocation => Location(_line, _lineStart, Pos);

    public string File => _file;

    private SourceLocation Location(int line, int lineStart, int pos)
    {
        int col = 1;
        for (int i = lineStart; i < pos && i < _src.Length; i++)
        {
            col = _src[i] == '\t' ? (((col - 1) / 8) + 1) * 8 + 1 : col + 1;
        }
        return new SourceLocation(_file, line, col);
    }

    public SchemaError Error(string message) => new(TokLocation, message);

    /// <summary>Reads the next token; with <paramref name="skipComment"/> false, returns comment lines as '#'.</summary>
    public void Accept(bool skipComment = true)
    {
        while (true)
        {
            if (_cursor >= _src.Length)
            {
                Tok = Eof;
                Val = null;
                Pos = _src.Length;
                return;
            }
            char tok = _src[_cursor];
            Tok = tok;
            Pos = _cursor;
            _cursor++;
            Val = null;

            if (tok == '#')
            {
                if (_src[_cursor] == '#')
                {
                    // Start of a doc comment.
                    skipComment = false;
                }
                _cursor = _src.IndexOf('\n', _cursor);
                if (!skipComment)
                {
                    Val = _src.Substring(Pos, _cursor - Pos);
                    return;
                }
            }
            else if (tok is '{' or '}' or ':' or ',' or '[' or ']')
            {
                return;
            }
            else if (tok == '\'')
            {
                var sb = new StringBuilder();
                bool esc = false;
                while (true)
                {
                    char ch = _src[_cursor];
                    _cursor++;
                    if (ch == '\n')
                    {
                        throw Error("missing terminating \"'\"");
                    }
                    if (esc)
                    {
                        // Like QEMU: only \\ is recognised; strings have no use for funny characters.
                        if (ch != '\\')
                        {
                            throw Error("unknown escape \\" + ch);
                        }
                        esc = false;
                    }
                    else if (ch == '\\')
                    {
                        esc = true;
                        continue;
                    }
                    else if (ch == '\'')
                    {
                        Val = sb.ToString();
                        return;
                    }
                    if (ch < 32 || ch >= 127)
                    {
                        throw Error("funny character in string");
                    }
                    sb.Append(ch);
                }
            }
            else if (At("true"))
            {
                Val = true;
                _cursor += 3;
                return;
            }
            else if (At("false"))
            {
                Val = false;
                _cursor += 4;
                return;
            }
            else if (tok == '\n')
            {
                if (_cursor == _src.Length)
                {
                    Tok = Eof;
                    return;
                }
                _line++;
                _lineStart = _cursor;
            }
            else if (_allowNumbers && (IsDigit(tok) || (tok == '-' && IsDigit(_src[_cursor]))))
            {
                int start = Pos;
                while (IsDigit(_src[_cursor]))
                {
                    _cursor++;
                }
                string digits = _src.Substring(start, _cursor - start);
                if (!long.TryParse(digits, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long value))
                {
                    throw Error("integer '" + digits + "' is out of range");
                }
                Tok = '0';
                Val = value;
                return;
            }
            else if (!char.IsWhiteSpace(tok))
            {
                // Show up to the next structural, whitespace or quote character.
                int end = Pos;
                while (end < _src.Length && !IsStrayStop(_src[end]))
                {
                    end++;
                }
                string stray = end > Pos ? _src.Substring(Pos, end - Pos) : tok.ToString();
                throw Error("stray '" + stray + "'");
            }
        }
    }

    private static bool IsDigit(char c) => c >= '0' && c <= '9';

    private static bool IsStrayStop(char c) =>
        c is '[' or ']' or '{' or '}' or ':' or ',' or '\'' or '"' || char.IsWhiteSpace(c);

    private bool At(string word)
    {
        if (Pos + word.Length > _src.Length)
        {
            return false;
        }
        return string.CompareOrdinal(_src, Pos, word, 0, word.Length) == 0;
    }

    private QDict GetMembers(SourceLocation start)
    {
        var entries = new List<QEntry>();
        var dict = new QDict(start, entries);
        if (Tok == '}')
        {
            Accept();
            return dict;
        }
        if (Tok != '\'')
        {
            throw Error("expected string or '}'");
        }
        while (true)
        {
            string key = (string)Val!;
            SourceLocation keyLocation = TokLocation;
            Accept();
            if (Tok != ':')
            {
                throw Error("expected ':'");
            }
            Accept();
            if (dict.Has(key))
            {
                throw Error("duplicate key '" + key + "'");
            }
            entries.Add(new QEntry(key, keyLocation, GetExpr()));
            if (Tok == '}')
            {
                Accept();
                return dict;
            }
            if (Tok != ',')
            {
                throw Error("expected ',' or '}'");
            }
            Accept();
            if (Tok != '\'')
            {
                throw Error("expected string");
            }
        }
    }

    private QList GetValues(SourceLocation start)
    {
        var items = new List<QNode>();
        var list = new QList(start, items);
        if (Tok == ']')
        {
            Accept();
            return list;
        }
        if (!(Tok is '{' or '[' or '\'' or 't' or 'f' || (Tok == '0' && _allowNumbers)))
        {
            throw Error("expected '{', '[', ']', string, or boolean");
        }
        while (true)
        {
            items.Add(GetExpr());
            if (Tok == ']')
            {
                Accept();
                return list;
            }
            if (Tok != ',')
            {
                throw Error("expected ',' or ']'");
            }
            Accept();
        }
    }

    /// <summary>Deeper nesting is refused rather than risking the stack (of the compiler, in the generator).</summary>
    public const int MaxDepth = 256;

    private int _depth;

    public QNode GetExpr()
    {
        SourceLocation loc = TokLocation;
        if (Tok is '{' or '[')
        {
            if (_depth >= MaxDepth)
            {
                throw Error("nesting deeper than " + MaxDepth.ToString(System.Globalization.CultureInfo.InvariantCulture) + " levels");
            }
            _depth++;
            try
            {
                bool dict = Tok == '{';
                Accept();
                return dict ? GetMembers(loc) : GetValues(loc);
            }
            finally
            {
                _depth--;
            }
        }
        if (Tok == '\'' && Val is string s)
        {
            Accept();
            return new QString(loc, s);
        }
        if ((Tok == 't' || Tok == 'f') && Val is bool b)
        {
            Accept();
            return new QBool(loc, b);
        }
        if (Tok == '0' && Val is long l)
        {
            Accept();
            return new QInt(loc, l);
        }
        throw Error("expected '{', '[', string, or boolean");
    }

    /// <summary>
    /// The top-level objects of a side file (overlay, capabilities) with where each starts. Doc
    /// blocks are allowed and ignored so the file can explain itself; anything else is an error.
    /// </summary>
    public IEnumerable<(QDict Expr, SourceLocation Location)> SideFileObjects()
    {
        Accept();
        while (Tok != Eof)
        {
            SourceLocation loc = TokLocation;
            if (Tok == '#')
            {
                GetDoc();
                continue;
            }
            if (GetExpr() is not QDict expr)
            {
                throw new SchemaError(loc, "top-level expression must be an object");
            }
            yield return (expr, loc);
        }
    }

    /// <summary>
    /// Reads one '##' block (the current token is its first line) into one or more raw docs:
    /// a '# =' heading starts a new free-form doc when the current one already has text.
    /// </summary>
    /// <param name="checkFormat">Apply QEMU's doc line rules (scripts/qapi/parser.py
    /// _validate_doc_line_format): at most 70 characters with the '# ', two spaces between
    /// sentences, literal blocks ('::') exempt. Off for pre-6.0 schemas, written before the rules.</param>
    public List<List<RawDocLine>> GetDoc(bool checkFormat = false)
    {
        if ((string?)Val != "##")
        {
            throw Error("junk after '##' at start of documentation comment");
        }
        var docs = new List<List<RawDocLine>>();
        var cur = new List<RawDocLine>();
        bool literal = false;
        int literalIndent = 0;
        Accept(false);
        while (Tok == '#')
        {
            string line = (string)Val!;
            if (line.StartsWith("##", System.StringComparison.Ordinal))
            {
                if (line != "##")
                {
                    throw Error("junk after '##' at end of documentation comment");
                }
                docs.Add(cur);
                Accept();
                return docs;
            }
            if (line.StartsWith("# =", System.StringComparison.Ordinal))
            {
                if (DocParser.HasSymbol(cur))
                {
                    throw Error("unexpected '=' markup in definition documentation");
                }
                if (DocParser.HasText(cur))
                {
                    docs.Add(cur);
                    cur = new List<RawDocLine>();
                }
            }
            if (checkFormat)
            {
                CheckDocLineFormat(line, ref literal, ref literalIndent);
            }
            cur.Add(new RawDocLine(line, TokLocation));
            Accept(false);
        }
        throw Error("documentation comment must end with '##'");
    }

    private static readonly System.Text.RegularExpressions.Regex LiteralStart = new(@"^(\.\. +qmp-example)? *::$");

    private static readonly System.Text.RegularExpressions.Regex UrlLine = new(@"^ *(https?|ftp)://[^ ]*$");

    // A sentence end ('.', '!', '?') followed by one space and a capital, digit or '('; "e.g." and a
    // numbered list item ("1. ") are not sentence ends. Same pattern as QEMU's.
    private static readonly System.Text.RegularExpressions.Regex SingleSpace = new(@"(\be\.g\.|^ *\d\.|([.!?])) [A-Z0-9(]");

    private void CheckDocLineFormat(string rawLine, ref bool literal, ref int literalIndent)
    {
        if (rawLine == "#" || rawLine.Length < 2 || rawLine[1] != ' ')
        {
            return; // an empty line; "missing space after #" is the doc parser's error
        }
        string line = rawLine.Substring(2).TrimEnd();
        if (LiteralStart.IsMatch(line))
        {
            literal = true;
            literalIndent = 0;
        }
        else if (literal && line.Length > 0)
        {
            int indent = line.Length - line.TrimStart(' ').Length;
            if (literalIndent == 0)
            {
                literalIndent = indent;
            }
            else if (indent < literalIndent)
            {
                literal = false; // reST directives end where the indentation decreases
            }
        }
        if (literal)
        {
            return;
        }
        if (line.Length + 2 > 70 && !UrlLine.IsMatch(line))
        {
            throw Error("documentation line longer than 70 characters");
        }
        foreach (System.Text.RegularExpressions.Match m in SingleSpace.Matches(line))
        {
            if (m.Groups[2].Success)
            {
                var at = TokLocation;
                throw new SchemaError(at with { Column = at.Column + 2 + m.Groups[2].Index + 1 }, "Use two spaces between sentences\nIf this not the end of a sentence, please report a bug.");
            }
        }
    }
}
