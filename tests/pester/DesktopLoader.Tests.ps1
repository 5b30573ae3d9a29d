# The Windows PowerShell 5.1 loader's decision (src/QemuGuest.Cmdlets/Loading/DesktopLoader.cs):
# AppDomain.AssemblyResolve is the whole process's, so the handler must answer only for our own
# dependencies at the versions we ship, and only to this module's assemblies. PowerShell 7 does not
# run that handler (it uses a load context), so its decision function is called here directly, on
# the laid-out module's real Dependencies/ folder, with own and foreign requests.

BeforeAll {
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    $script:ModuleDir = Split-Path (Get-Module QemuGuest).Path -Parent
    $script:Deps = Join-Path $ModuleDir 'Dependencies'
    $cmdlets = [QemuGuest.Cmdlets.Sessions.GuestSession].Assembly
    $loader = $cmdlets.GetType('QemuGuest.Cmdlets.Loading.DesktopLoader', $true)
    $flags = [Reflection.BindingFlags] 'Static, NonPublic'
    $script:ChooseMethod = $loader.GetMethod('Choose', $flags)
    $script:Shipped = $loader.GetMethod('Shipped', $flags).Invoke($null, @([string] $Deps))
    $script:Json = $Shipped['System.Text.Json']
    $script:OwnRequester = Join-Path $Deps 'QemuGuest.Protocol.dll'
    $script:ModuleRequester = Join-Path $ModuleDir 'QemuGuest.Cmdlets.dll'

    # $Requester untyped: a [string] parameter would turn $null (the runtime named no requester) into ''.
    function Resolve-Desktop([string] $Name, $Requester) {
        $who = if ($null -eq $Requester) { $null } else { [string] $Requester }
        $ChooseMethod.Invoke($null, [object[]] @($Name, $who, [string] $ModuleDir, $Shipped))
    }

    function Get-Token([Reflection.AssemblyName] $Name) { -join ($Name.GetPublicKeyToken() | ForEach-Object { $_.ToString('x2') }) }
}

Describe 'Windows PowerShell 5.1 AssemblyResolve handler' {
    It 'knows the shipped dependencies from Dependencies/' {
        $Shipped.Keys | Should -Contain 'QemuGuest.Protocol'
        $Shipped.Keys | Should -Contain 'System.Text.Json'
        $Json.Version | Should -Not -BeNullOrEmpty
    }

    It 'answers our own assemblies with the shipped file, for the shipped version and older ones' {
        Resolve-Desktop $Json.FullName $OwnRequester | Should -Be (Join-Path $Deps 'System.Text.Json.dll')
        Resolve-Desktop $Json.FullName $ModuleRequester | Should -Be (Join-Path $Deps 'System.Text.Json.dll')
        $older = "System.Text.Json, Version=4.0.0.0, Culture=neutral, PublicKeyToken=$(Get-Token $Json)"
        Resolve-Desktop $older $OwnRequester | Should -Be (Join-Path $Deps 'System.Text.Json.dll')
    }

    It 'does not answer another module, even for a name and version we ship' {
        $foreign = Join-Path ([IO.Path]::GetTempPath()) 'OtherModule/1.0/OtherModule.dll'
        Resolve-Desktop $Json.FullName $foreign | Should -BeNullOrEmpty
        # A module folder whose name starts like ours is still another folder.
        Resolve-Desktop $Json.FullName (Join-Path "$ModuleDir-other" 'X.dll') | Should -BeNullOrEmpty
        # A dynamic assembly (no file) is not ours.
        Resolve-Desktop $Json.FullName '' | Should -BeNullOrEmpty
    }

    It 'does not answer for versions newer than ours, other keys, or names we do not ship' {
        $v = $Json.Version
        $newer = "System.Text.Json, Version=$($v.Major + 1).0.0.0, Culture=neutral, PublicKeyToken=$(Get-Token $Json)"
        Resolve-Desktop $newer $OwnRequester | Should -BeNullOrEmpty
        Resolve-Desktop "System.Text.Json, Version=$v, Culture=neutral, PublicKeyToken=0123456789abcdef" $OwnRequester | Should -BeNullOrEmpty
        Resolve-Desktop 'Newtonsoft.Json, Version=13.0.0.0, Culture=neutral, PublicKeyToken=30ad4fe6b2a6aeed' $OwnRequester | Should -BeNullOrEmpty
        Resolve-Desktop 'not a valid, =name' $OwnRequester | Should -BeNullOrEmpty
    }

    It 'answers a request without a requester only for exactly the shipped version' {
        Resolve-Desktop $Json.FullName $null | Should -Be (Join-Path $Deps 'System.Text.Json.dll')
        Resolve-Desktop "System.Text.Json, Version=4.0.0.0, Culture=neutral, PublicKeyToken=$(Get-Token $Json)" $null | Should -BeNullOrEmpty
    }
}
