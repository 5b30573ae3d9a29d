using System;
using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Text;
using QemuGuest.Protocol;

namespace QemuGuest.Cmdlets;

/// <summary>
/// What QemuGuest.Format.ps1xml calls to show guest text: <see cref="GuestText.Printable(string, bool)"/>
/// (in the module's private dependencies, which format script blocks cannot name) for one
/// value, and a list rendering for output types without a view of their own. Objects keep
/// their raw values; only the console sees escapes.
/// </summary>
public static class GuestDisplay
{
    /// <summary>The type name every output object carries (before System.Object), so the catch-all view finds it.</summary>
    public const string CatchAllTypeName = "QemuGuest.GuestText";

    private const int EnumerationLimit = 4;

    /// <summary>One value on one line: every control character escaped.</summary>
    public static string Text(object? value) => GuestText.Printable(Flatten(value), multiline: false);

    /// <summary>Program output and other text meant as lines: line feeds and tabs kept, the rest escaped.</summary>
    public static string Lines(object? value) => GuestText.Printable(Flatten(value), multiline: true);

    /// <summary>Base64 from the guest (exec out-data) decoded as UTF-8 and shown as lines; cut to <paramref name="maxChars"/> when positive.</summary>
    public static string Base64Lines(string? base64, int maxChars)
    {
        if (string.IsNullOrEmpty(base64))
        {
            return string.Empty;
        }

        string text;
        try
        {
            text = new UTF8Encoding(false).GetString(Convert.FromBase64String(base64)).Trim();
        }
        catch (FormatException)
        {
            return "(not base64)";
        }

        if (maxChars > 3 && text.Length > maxChars)
        {
            text = text.Substring(0, maxChars - 3) + "...";
        }

        return maxChars > 0 ? Text(text) : Lines(text);
    }

    /// <summary>
    /// Format-List's shape for any object ("Name : value" per property, names padded), every
    /// value printable: the catch-all view, so a type nobody wrote a view for is not the one
    /// that writes a guest's escape sequences to the console.
    /// </summary>
    public static string List(object? value)
    {
        if (value is null)
        {
            return string.Empty;
        }

        var ps = PSObject.AsPSObject(value);
        int width = 0;
        foreach (var p in ps.Properties)
        {
            width = Math.Max(width, p.Name.Length);
        }

        var sb = new StringBuilder();
        string indent = new(' ', width + 3);
        foreach (var p in ps.Properties)
        {
            object? v;
            try
            {
                v = p.Value;
            }
            catch (GetValueException)
            {
                v = null;
            }

            string shown = Lines(v).Replace("\r\n", "\n").Replace("\n", Environment.NewLine + indent);
            sb.Append(p.Name.PadRight(width)).Append(" : ").Append(shown).Append(Environment.NewLine);
        }

        return sb.ToString();
    }

    private static string? Flatten(object? value)
    {
        value = value is PSObject ps ? ps.BaseObject : value;
        switch (value)
        {
            case null:
                return null;
            case string s:
                return s;
            case IEnumerable e:
                var sb = new StringBuilder("{");
                int n = 0;
                foreach (var item in e)
                {
                    if (n == EnumerationLimit)
                    {
                        sb.Append("...");
                        break;
                    }

                    sb.Append(n++ == 0 ? string.Empty : ", ").Append(Flatten(item));
                }

                return sb.Append('}').ToString();
            case IFormattable f:
                return f.ToString(null, CultureInfo.CurrentCulture);
            default:
                return value.ToString();
        }
    }
}
