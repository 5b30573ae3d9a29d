using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Client;

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
