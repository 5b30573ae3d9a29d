// pwsh's own entry point (PowerShell's src/powershell/Program.cs): the console host parses the
// command line, so `-s -NoLogo -NoProfile` is server mode exactly as in pwsh.exe.
namespace QemuGuest.WinePwsh;

internal static class Program
{
    private static int Main(string[] args) => Microsoft.PowerShell.UnmanagedPSEntry.Start(args, args.Length);
}
