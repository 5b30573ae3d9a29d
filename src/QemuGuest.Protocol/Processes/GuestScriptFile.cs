using System;
using System.Security.Cryptography;
using System.Text;

namespace QemuGuest.Protocol.Processes;

/// <summary>
/// How script text reaches its interpreter: as a file in the guest's temporary folder, never on
/// the command line (Linux refuses one argument over 128 KiB: a 300 KB script failed with
/// "Argument list too long"; Windows stops at 32,767 characters). The name carries 128 random
/// bits, so no other guest user can plant a file or link there first; the transfer engine
/// creates it exclusively and private (<see cref="Mode"/>) before the text is written.
/// </summary>
public static class GuestScriptFile
{
    /// <summary>Owner only: the agent's user reads (and may run) it; nobody else can read the script or change it under us.</summary>
    public const int Mode = 0x1C0; // 0700

    /// <summary>The interpreter when none is named: PowerShell on Windows guests, bash elsewhere (as PowerCLI's Invoke-VMScript).</summary>
    public static GuestScriptLanguage DefaultLanguage(bool windows) => windows ? GuestScriptLanguage.PowerShell : GuestScriptLanguage.Bash;

    /// <summary>
    /// A new unpredictable path in the guest's temporary folder (/tmp; C:\Windows\Temp, the
    /// SYSTEM account's %TEMP%, where others may create files but not read ours), with the
    /// extension its interpreter needs (pwsh -File wants .ps1, cmd runs .cmd).
    /// </summary>
    public static string NewPath(GuestScriptLanguage language, bool windows)
    {
        byte[] random = new byte[16];
        using (var rng = RandomNumberGenerator.Create())
        {
            rng.GetBytes(random);
        }
        var name = new StringBuilder(windows ? @"C:\Windows\Temp\" : "/tmp/");
        name.Append("qemuguest-script-");
        foreach (byte b in random)
        {
            name.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        }
        name.Append(language switch
        {
            GuestScriptLanguage.PowerShell => ".ps1",
            GuestScriptLanguage.Cmd => ".cmd",
            _ => ".sh",
        });
        return name.ToString();
    }

    /// <summary>
    /// The file's bytes: UTF-8; with a byte order mark for PowerShell (Windows PowerShell 5.1 reads
    /// a file without one in the ANSI code page); for cmd in <paramref name="console"/>, the
    /// guest's console code page (chcp), which is how cmd reads a batch file (UTF-8 "grüße" ran
    /// as "gr├╝├ƒe" under code page 437), with CRLF line ends, as its labels and line
    /// continuations misbehave on bare LF. Throws <see cref="EncoderFallbackException"/> for text
    /// that page cannot hold.
    /// </summary>
    public static byte[] Encode(GuestScriptLanguage language, string text, Encoding? console = null)
    {
        switch (language)
        {
            case GuestScriptLanguage.PowerShell:
                return WithPreamble(new UTF8Encoding(false).GetBytes(text));
            case GuestScriptLanguage.Cmd:
                Encoding strict = console is null or UTF8Encoding
                    ? new UTF8Encoding(false, true)
                    : Encoding.GetEncoding(console.CodePage, EncoderFallback.ExceptionFallback, DecoderFallback.ReplacementFallback);
                return strict.GetBytes(text.Replace("\r\n", "\n").Replace("\n", "\r\n"));
            default:
                return new UTF8Encoding(false).GetBytes(text);
        }
    }

    /// <summary>The program and arguments that run the script file at <paramref name="path"/> with <paramref name="language"/>.</summary>
    public static GuestProcessStartInfo StartInfo(GuestProcessStartInfo extras, GuestScriptLanguage language, string path, bool windows) => language switch
    {
        GuestScriptLanguage.Bash => extras.With("bash", new[] { path }),
        GuestScriptLanguage.Sh => extras.With("sh", new[] { path }),
        GuestScriptLanguage.Cmd => extras.With("cmd.exe", new[] { "/d", "/c", path }),
        _ => windows
            ? extras.With("powershell.exe", new[] { "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File", path })
            : extras.With("pwsh", new[] { "-NoProfile", "-NonInteractive", "-File", path }),
    };

    private static byte[] WithPreamble(byte[] text)
    {
        byte[] bom = new UTF8Encoding(true).GetPreamble();
        byte[] all = new byte[bom.Length + text.Length];
        Buffer.BlockCopy(bom, 0, all, 0, bom.Length);
        Buffer.BlockCopy(text, 0, all, bom.Length, text.Length);
        return all;
    }
}
