using System;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace QemuGuest.Cmdlets.Loading;

/// <summary>
/// Keeps the module's dependencies (QemuGuest.Protocol, System.Text.Json, ...) private.
/// They live in the module's Dependencies/ folder, never next to this assembly, so neither
/// PowerShell's own probing nor the host finds them. This assembly references them only
/// from method bodies, and this module initializer runs before any of those bodies, so
/// the hook is in place before the first dependency is resolved:
///  - PowerShell 7 (.NET): a private AssemblyLoadContext loads them; the default context's
///    Resolving event hands that context's copies to this assembly. A host that already
///    loaded another version of any of them is not disturbed, and neither are we.
///  - Windows PowerShell 5.1 (.NET Framework): AppDomain.AssemblyResolve loads them from
///    Dependencies/ (the framework has no load contexts).
/// </summary>
internal static class ModuleLoader
{
    internal const string DependencyFolderName = "Dependencies";

    private static int s_installed;

    /// <summary>Where dependencies were looked for; shown by Get-VMGuestModuleInfo-style diagnostics and tests.</summary>
    internal static string DependencyDirectory { get; private set; } = string.Empty;

    /// <summary>"AssemblyLoadContext" or "AssemblyResolve": which mechanism is in use.</summary>
    internal static string Mechanism { get; private set; } = "none";

#pragma warning disable CA2255 // The module initializer is exactly the point: it must run before any dependency loads.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize()
    {
        if (System.Threading.Interlocked.Exchange(ref s_installed, 1) == 1)
        {
            return;
        }

        string moduleDir = Path.GetDirectoryName(typeof(ModuleLoader).Assembly.Location) ?? AppContext.BaseDirectory;
        string depsDir = Path.Combine(moduleDir, DependencyFolderName);
        DependencyDirectory = depsDir;

        // Built bin/ output (unit tests) has the dependencies next to us; nothing to hook then.
        if (!Directory.Exists(depsDir))
        {
            Mechanism = "none (no Dependencies folder)";
            return;
        }

        if (IsDotNetCore())
        {
            CoreLoader.Install(depsDir);
            Mechanism = "AssemblyLoadContext";
        }
        else
        {
            DesktopLoader.Install(depsDir);
            Mechanism = "AssemblyResolve";
        }
    }

    private static bool IsDotNetCore() =>
        Type.GetType("System.Runtime.Loader.AssemblyLoadContext, System.Runtime.Loader", throwOnError: false) is not null
        && !System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.Ordinal);

    /// <summary>The dll for an assembly name in the dependency folder, or null.</summary>
    internal static string? FindDependency(string depsDir, AssemblyName name)
    {
        if (string.IsNullOrEmpty(name.Name))
        {
            return null;
        }
        string path = Path.Combine(depsDir, name.Name + ".dll");
        return File.Exists(path) ? path : null;
    }

    /// <summary>
    /// Polyfill packages whose types must be the host runtime's own on .NET (Span, Memory,
    /// Vector...). On .NET they are framework facades; loading the netstandard copies privately
    /// would create a second, incompatible Span type. They are shipped for Windows PowerShell only.
    /// </summary>
    internal static bool IsUnifiedWithHost(string name) => name switch
    {
        "System.Memory" => true,
        "System.Buffers" => true,
        "System.Numerics.Vectors" => true,
        "System.Runtime.CompilerServices.Unsafe" => true,
        "System.Threading.Tasks.Extensions" => true,
        "System.ValueTuple" => true,
        "netstandard" => true,
        _ => false,
    };
}
