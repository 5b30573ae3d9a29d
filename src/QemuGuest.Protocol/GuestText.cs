using System;
using System.Globalization;
using System.Text;

namespace QemuGuest.Protocol;

/// <summary>
/// The one way text from a guest is made safe to show on a terminal or write to a log. A guest
/// controls host names, file names, user names, error texts and program output; written raw to
/// a console, ESC, CSI (0x9B) and OSC sequences change the window title, write the clipboard
/// (OSC 52), hide or rewrite earlier lines, and bidi overrides make a name read backwards.
/// Objects keep the raw value: only what is displayed or logged goes through here.
/// </summary>
public static class GuestText
{
    /// <summary>
    /// <paramref name="text"/> with every C0 and C1 control character, DEL, line and paragraph
    /// separator and bidi control replaced by a visible escape (<c>\u001b</c>, <c>\u202e</c>).
    /// With <paramref name="multiline"/>, tab, line feed and a carriage return before a line
    /// feed are kept, so program output still reads as lines; a lone carriage return (which
    /// lets a later line overwrite an earlier one on screen) is escaped either way.
    /// </summary>
    public static string Printable(string? text, bool multiline = false)
    {
        if (text is null)
        {
            return string.Empty;
        }

        int first = FirstUnsafe(text, multiline);
        if (first < 0)
        {
            return text;
        }

        var sb = new StringBuilder(text.Length + 16);
        sb.Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (IsUnsafe(text, i, multiline))
            {
                AppendEscape(sb, c);
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// <paramref name="text"/> for quoting inside a message ('NAME'): as <see cref="Printable(string, bool)"/>,
    /// and also '\', quotes and lone surrogates escaped (so the quoting is unambiguous), clipped
    /// to <paramref name="max"/> characters (then "..."); null is "(null)".
    /// </summary>
    public static string Quoted(string? text, int max = 200)
    {
        if (text is null)
        {
            return "(null)";
        }

        var sb = new StringBuilder(Math.Min(text.Length, max) + 8);
        for (int i = 0; i < text.Length; i++)
        {
            if (sb.Length >= max)
            {
                sb.Append("...");
                break;
            }

            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(c).Append(text[++i]);
            }
            else if (c is '\\' or '\'' or '"')
            {
                sb.Append('\\').Append(c);
            }
            else if (IsUnsafe(text, i, multiline: false) || char.IsSurrogate(c))
            {
                AppendEscape(sb, c);
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    /// <summary>Printable text of a value's string form (null → empty), for format views that get any object.</summary>
    public static string Printable(object? value, bool multiline = false) => Printable(value?.ToString(), multiline);

    /// <summary>True when <see cref="Printable(string, bool)"/> would change <paramref name="text"/>.</summary>
    public static bool NeedsEscaping(string? text, bool multiline = false) => text is not null && FirstUnsafe(text, multiline) >= 0;

    // One notation for every escape, JSON's: \u001b.
    private static void AppendEscape(StringBuilder sb, char c) =>
        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));

    private static int FirstUnsafe(string text, bool multiline)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (IsUnsafe(text, i, multiline))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsUnsafe(string text, int i, bool multiline)
    {
        char c = text[i];
        if (c < 0x20)
        {
            return !(multiline && (c == '\t' || c == '\n' || (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')));
        }

        return c is >= '\u007F' and <= '\u009F'
            or '\u061C' or '\u200E' or '\u200F'
            or >= '\u202A' and <= '\u202E'
            or >= '\u2066' and <= '\u2069'
            or '\u2028' or '\u2029';
    }
}
