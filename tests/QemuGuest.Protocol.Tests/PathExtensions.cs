using System.IO;

namespace QemuGuest.Protocol.Tests;

internal static class PathExtensions
{
    public static string? FirstOrDefaultExisting(this string[] candidates)
    {
        foreach (string candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
