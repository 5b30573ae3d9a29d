using System.Text;

namespace QemuGuest.Schema;

/// <summary>
/// The one conversion from QAPI wire names to C# names. The checker reports clashes
/// after this conversion (e.g. 'a-b' and 'a_b' both become AB... → "AB").
/// </summary>
public static class Naming
{
    /// <summary>
    /// "guest-file-open" → "GuestFileOpen", "buf-b64" → "BufB64", "GuestOSInfo" stays,
    /// "__com.qemuguest_file-stat" → "FileStat" (the downstream prefix says who, not what),
    /// "q_obj_guest-exec-arg" → "GuestExecArg". A leading digit gets an underscore.
    /// </summary>
    public static string ToPascalCase(string wireName)
    {
        string name = StripDownstreamPrefix(wireName);
        if (name.StartsWith("q_obj_", System.StringComparison.Ordinal))
        {
            name = name.Substring("q_obj_".Length);
        }

        var sb = new StringBuilder(name.Length);
        bool upperNext = true;
        foreach (char c in name)
        {
            if (c == '-' || c == '_' || c == '.' || c == ' ')
            {
                upperNext = true;
                continue;
            }
            if (!char.IsLetterOrDigit(c))
            {
                upperNext = true;
                continue;
            }
            sb.Append(upperNext ? char.ToUpperInvariant(c) : c);
            upperNext = false;
        }
        if (sb.Length == 0 || char.IsDigit(sb[0]))
        {
            sb.Insert(0, '_');
        }
        return sb.ToString();
    }

    /// <summary>"guest-file-open" → "guestFileOpen" (locals and parameters).</summary>
    public static string ToCamelCase(string wireName)
    {
        string pascal = ToPascalCase(wireName);
        if (pascal.StartsWith("_", System.StringComparison.Ordinal))
        {
            return pascal;
        }
        int i = 0;
        // Lower a leading acronym as a whole: "OSInfo" → "osInfo".
        while (i < pascal.Length && char.IsUpper(pascal[i]) && (i == 0 || i + 1 >= pascal.Length || char.IsUpper(pascal[i + 1])))
        {
            i++;
        }
        if (i == 0)
        {
            i = 1;
        }
        string camel = pascal.Substring(0, i).ToLowerInvariant() + pascal.Substring(i);
        return CSharpKeywords.IsKeyword(camel) ? "@" + camel : camel;
    }

    /// <summary>Removes QAPI's downstream-extension prefix "__RFQDN_" if present.</summary>
    public static string StripDownstreamPrefix(string wireName)
    {
        if (wireName.StartsWith("__", System.StringComparison.Ordinal))
        {
            int underscore = wireName.IndexOf('_', 2);
            if (underscore > 2)
            {
                return wireName.Substring(underscore + 1);
            }
        }
        return wireName;
    }

    /// <summary>The "__RFQDN" prefix of a downstream extension name, or null.</summary>
    public static string? DownstreamPrefix(string wireName)
    {
        if (wireName.StartsWith("__", System.StringComparison.Ordinal))
        {
            int underscore = wireName.IndexOf('_', 2);
            if (underscore > 2)
            {
                return wireName.Substring(0, underscore);
            }
        }
        return null;
    }
}

internal static class CSharpKeywords
{
    private static readonly System.Collections.Generic.HashSet<string> Keywords = new()
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class",
        "const", "continue", "decimal", "default", "delegate", "do", "double", "else", "enum", "event",
        "explicit", "extern", "false", "finally", "fixed", "float", "for", "foreach", "goto", "if",
        "implicit", "in", "int", "interface", "internal", "is", "lock", "long", "namespace", "new", "null",
        "object", "operator", "out", "override", "params", "private", "protected", "public", "readonly",
        "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string", "struct",
        "switch", "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe",
        "ushort", "using", "virtual", "void", "volatile", "while",
    };

    public static bool IsKeyword(string s) => Keywords.Contains(s);
}
