namespace QemuGuest.Protocol.Validation;

/// <summary>
/// The one check of "a single name from the guest" (issue 15 item 1): a name the guest lists is
/// joined to a host path, so it must be exactly one component on every host platform. Used by
/// the schema validator for members with the 'path-component' feature (the relay refuses such
/// replies without knowing the command) and by the cmdlets before they join a name to a folder.
/// The rules are OpenSSH scp's and rsync's (CVE-2019-6111, CVE-2022-29154), widened to both
/// separators because a Linux name holding '\' becomes a separator on a Windows host.
/// </summary>
public static class PathComponent
{
    /// <summary>The schema feature that marks a member as one path component.</summary>
    public const string Feature = "path-component";

    /// <summary>The longest name accepted; no common filesystem allows longer components (NTFS, ext4: 255).</summary>
    public const int MaxLength = 1024;

    /// <summary>
    /// Null when <paramref name="name"/> is one usable path component, else why not, as a short
    /// English reason ("is '..'", "contains '/'", ...) that never repeats the raw name.
    /// </summary>
    public static string? Problem(string? name)
    {
        if (name is null)
        {
            return "is missing";
        }
        if (name.Length == 0)
        {
            return "is empty";
        }
        if (name == "." || name == "..")
        {
            return "is '" + name + "'";
        }
        if (name.Length > MaxLength)
        {
            return "is longer than " + MaxLength + " characters";
        }
        foreach (char c in name)
        {
            switch (c)
            {
                case '/':
                    return "contains '/'";
                case '\\':
                    return "contains '\\'";
                case '\0':
                    return "contains NUL";
            }
            if (IsControl(c))
            {
                return "contains the control character U+" + ((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return null;
    }

    /// <summary>
    /// <paramref name="name"/> in a form safe to put into a message or onto a console: control
    /// characters, bidi controls, '\', quotes and lone surrogates as escapes, clipped to
    /// <paramref name="max"/> characters (then "..."). The one printer is GuestText's.
    /// </summary>
    public static string Printable(string? name, int max = 200) => GuestText.Quoted(name, max);

    // C0, DEL and C1: C1 (U+0080..U+009F) includes CSI, which terminals read as ESC [.
    // Bidi overrides and other format characters are left to the display layer: they are
    // legal in file names and harmless to a path join.
    private static bool IsControl(char c) => c < 0x20 || (c >= 0x7F && c <= 0x9F);
}
