using System;
using System.Collections.Generic;
using System.Text;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Emit;

/// <summary>Turns schema doc text into XML doc comments (escaped, one "///" per line).</summary>
internal static class DocWriter
{
    public static void Summary(SourceWriter w, string? text, string? fallback = null)
    {
        string? t = string.IsNullOrWhiteSpace(text) ? fallback : text;
        if (string.IsNullOrWhiteSpace(t))
        {
            return;
        }
        Tag(w, "summary", t!);
    }

    public static void Entity(SourceWriter w, QapiEntity e, string fallback)
    {
        Summary(w, e.Doc?.Body, fallback);
        var remarks = new List<string>();
        if (e.IsDeprecated)
        {
            remarks.Add("Deprecated.");
        }
        if (e.IsUnstable)
        {
            remarks.Add("Unstable.");
        }
        if (e.If is not null)
        {
            remarks.Add("Only where " + TypeMap.ConditionText(e.If) + ".");
        }
        if (e.Doc?.Since is { } since && since.Trim().Length > 0)
        {
            remarks.Add("Since: " + since.Trim());
        }
        if (remarks.Count > 0)
        {
            Tag(w, "remarks", string.Join("\n", remarks));
        }
    }

    public static void Tag(SourceWriter w, string tag, string text, string? attribute = null)
    {
        string open = attribute is null ? "<" + tag + ">" : "<" + tag + " " + attribute + ">";
        var lines = Escape(text.Trim()).Replace("\r\n", "\n").Split('\n');
        if (lines.Length == 1)
        {
            w.Line("/// " + open + lines[0].Trim() + "</" + tag + ">");
            return;
        }
        w.Line("/// " + open);
        foreach (var l in lines)
        {
            string line = l.TrimEnd();
            w.Line(line.Length == 0 ? "///" : "/// " + line);
        }
        w.Line("/// </" + tag + ">");
    }

    public static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            switch (c)
            {
                case '&': sb.Append("&amp;"); break;
                case '<': sb.Append("&lt;"); break;
                case '>': sb.Append("&gt;"); break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }

    public static void If(SourceWriter w, QapiCondition? c)
    {
        if (c is not null)
        {
            w.Line("[QapiIf(" + TypeMap.Literal(TypeMap.ConditionText(c)) + ")]");
        }
    }

    public static string MemberDoc(QapiEntity? owner, string member) => owner?.Doc?.MemberText(member) ?? string.Empty;

    public static IEnumerable<string> Nothing => Array.Empty<string>();
}
