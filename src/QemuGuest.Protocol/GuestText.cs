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
    /// separator and bidi control replaced by a visible escape (<c>\x1B</c>, <c>\u202E</c>).
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
                sb.Append(c <= 0xFF ? "\\x" + ((int)c).ToString("X2", CultureInfo.InvariantCulture) : "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture));
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
