using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace QemuGuest.Cmdlets.Loading;

/// <summary>
/// PowerShell 7 side of <see cref="ModuleLoader"/>. Kept in its own class so that Windows
/// PowerShell never JIT-compiles a method that mentions AssemblyLoadContext.
/// </summary>
internal static class CoreLoader
{
    private static DependencyLoadContext? s_context;

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void Install(string depsDir)
    {
        s_context = new DependencyLoadContext(depsDir);
        AssemblyLoadContext.Default.Resolving += OnDefaultResolving;
    }

    /// <summary>
    /// Only called when the default context could not find an assembly: for the ones in our
    /// Dependencies/ folder (this assembly asks for QemuGuest.Protocol), answer with the private copy.
    /// </summary>
    private static Assembly? OnDefaultResolving(AssemblyLoadContext context, AssemblyName name)
    {
        if (s_context is null || name.Name is null || ModuleLoader.IsUnifiedWithHost(name.Name))
        {
            return null;
        }
        // Only what this module asks for directly; the private context resolves the rest itself.
        if (!name.Name.StartsWith("QemuGuest.", System.StringComparison.Ordinal))
        {
            return null;
        }
        return s_context.LoadFromAssemblyName(name);
    }

    internal static string? DescribeContextOf(Assembly assembly) =>
        AssemblyLoadContext.GetLoadContext(assembly)?.ToString();

    private sealed class DependencyLoadContext : AssemblyLoadContext
    {
        private readonly string _depsDir;

        public DependencyLoadContext(string depsDir)
        {
            _depsDir = depsDir;
        }

        protected override Assembly? Load(AssemblyName assemblyName)
        {
            if (assemblyName.Name is null || ModuleLoader.IsUnifiedWithHost(assemblyName.Name))
            {
                return null; // the host's own copy (default context)
            }
            string? path = ModuleLoader.FindDependency(_depsDir, assemblyName);
            return path is null ? null : LoadFromAssemblyPath(path);
        }

        public override string ToString() => "QemuGuest dependency context (" + _depsDir + ")";
    }
}
