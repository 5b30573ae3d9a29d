using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace QemuGuest.Agent.Configuration;

/// <summary>
/// The subset of GLib's key-file format that qemu-ga uses for its config file and for
/// STATEDIR/qga.state: <c>[group]</c> headers, <c>key=value</c> lines, <c>#</c> comments,
/// blank lines, GLib's string escapes (\s \n \t \r \\) and booleans (true/false/1/0).
/// Error messages follow GLib's wording, because qemu-ga prints them verbatim.
/// </summary>
public sealed class KeyFile
{
    private readonly List<(string Group, List<KeyValuePair<string, string>> Entries)> _groups = new();

    /// <summary>Parses key-file text; throws <see cref="FormatException"/> with GLib's message.</summary>
    public static KeyFile Parse(string text)
    {
        var file = new KeyFile();
        List<KeyValuePair<string, string>>? current = null;
        foreach (string rawLine in text.Split('\n'))
        {
            string line = rawLine.TrimEnd('\r');
            string trimmed = line.TrimStart(' ', '\t');
            if (trimmed.Length == 0 || trimmed[0] == '#')
            {
                continue;
            }

            if (trimmed[0] == '[')
            {
                string t = trimmed.TrimEnd(' ', '\t');
                if (t.Length < 2 || t[t.Length - 1] != ']')
                {
                    throw new FormatException("Key file contains line \u201c" + line + "\u201d which is not a key-value pair, group, or comment");
                }

                string name = t.Substring(1, t.Length - 2);
                current = file.GetOrAddGroup(name);
                continue;
            }

            int eq = trimmed.IndexOf('=');
            if (eq <= 0)
            {
                throw new FormatException("Key file contains line \u201c" + line + "\u201d which is not a key-value pair, group, or comment");
            }

            if (current is null)
            {
                throw new FormatException("Key file does not start with a group");
            }

            string key = trimmed.Substring(0, eq).TrimEnd(' ', '\t');
            string value = trimmed.Substring(eq + 1).TrimStart(' ', '\t');
            int existing = current.FindIndex(kv => kv.Key == key);
            if (existing >= 0)
            {
                current[existing] = new KeyValuePair<string, string>(key, value);
            }
            else
            {
                current.Add(new KeyValuePair<string, string>(key, value));
            }
        }

        return file;
    }

    public IEnumerable<string> Groups
    {
        get
        {
            foreach (var g in _groups)
            {
                yield return g.Group;
            }
        }
    }

    public bool HasKey(string group, string key) => FindRaw(group, key) is not null;

    /// <summary>The unescaped string value, or null when absent.</summary>
    public string? GetString(string group, string key)
    {
        string? raw = FindRaw(group, key);
        return raw is null ? null : Unescape(raw);
    }

    /// <summary>GLib boolean: true/false/1/0 (surrounding whitespace ignored).</summary>
    public bool? GetBoolean(string group, string key)
    {
        string? raw = FindRaw(group, key);
        if (raw is null)
        {
            return null;
        }

        switch (raw.Trim())
        {
            case "true":
            case "1":
                return true;
            case "false":
            case "0":
                return false;
            default:
                throw new FormatException("Key file contains key \u201c" + key + "\u201d which has a value that cannot be interpreted.");
        }
    }

    /// <summary>GLib integer (decimal, optional sign).</summary>
    public long? GetInt64(string group, string key)
    {
        string? raw = FindRaw(group, key);
        if (raw is null)
        {
            return null;
        }

        if (!long.TryParse(raw.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
        {
            throw new FormatException("Key file contains key \u201c" + key + "\u201d in group \u201c" + group + "\u201d which has a value that cannot be interpreted.");
        }

        return v;
    }

    public void SetString(string group, string key, string value) => SetRaw(group, key, Escape(value));

    public void SetBoolean(string group, string key, bool value) => SetRaw(group, key, value ? "true" : "false");

    public void SetInt64(string group, string key, long value) => SetRaw(group, key, value.ToString(CultureInfo.InvariantCulture));

    /// <summary>Serialises like g_key_file_to_data: groups separated by a blank line.</summary>
    public string ToData()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < _groups.Count; i++)
        {
            if (i > 0)
            {
                sb.Append('\n');
            }

            sb.Append('[').Append(_groups[i].Group).Append("]\n");
            foreach (var kv in _groups[i].Entries)
            {
                sb.Append(kv.Key).Append('=').Append(kv.Value).Append('\n');
            }
        }

        return sb.ToString();
    }

    private string? FindRaw(string group, string key)
    {
        foreach (var g in _groups)
        {
            if (g.Group == group)
            {
                foreach (var kv in g.Entries)
                {
                    if (kv.Key == key)
                    {
                        return kv.Value;
                    }
                }
            }
        }

        return null;
    }

    private void SetRaw(string group, string key, string raw)
    {
        var entries = GetOrAddGroup(group);
        int existing = entries.FindIndex(kv => kv.Key == key);
        if (existing >= 0)
        {
            entries[existing] = new KeyValuePair<string, string>(key, raw);
        }
        else
        {
            entries.Add(new KeyValuePair<string, string>(key, raw));
        }
    }

    private List<KeyValuePair<string, string>> GetOrAddGroup(string name)
    {
        foreach (var g in _groups)
        {
            if (g.Group == name)
            {
                return g.Entries;
            }
        }

        var entries = new List<KeyValuePair<string, string>>();
        _groups.Add((name, entries));
        return entries;
    }

    internal static string Unescape(string raw)
    {
        if (raw.IndexOf('\\') < 0)
        {
            return raw;
        }

        var sb = new StringBuilder(raw.Length);
        for (int i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (c != '\\' || i + 1 >= raw.Length)
            {
                sb.Append(c);
                continue;
            }

            char n = raw[++i];
            sb.Append(n switch
            {
                's' => ' ',
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '\\' => '\\',
                _ => n,
            });
        }

        return sb.ToString();
    }

    internal static string Escape(string value)
    {
        var sb = new StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            switch (c)
            {
                case ' ' when i == 0:
                    sb.Append("\\s");
                    break;
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\\':
                    sb.Append("\\\\");
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }

        return sb.ToString();
    }
}
