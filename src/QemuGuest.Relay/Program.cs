namespace QemuGuest.Relay;

public static class Program
{
    public static int Main(string[] args)
    {
        System.Console.Error.WriteLine("qemuguest-relay: not implemented yet (issue 6)");
        return 1;
    }
}
