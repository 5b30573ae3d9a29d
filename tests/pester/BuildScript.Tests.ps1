# build.ps1's own contract: named tasks with synopses, and a clear refusal of unknown ones.

BeforeAll {
    $script:Pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    $script:Build = Join-Path $env:QEMUGUEST_REPO_ROOT 'build.ps1'
}

Describe 'build.ps1' {
    It 'lists every task with a one-line synopsis' {
        $out = @(& $Pwsh -NoProfile -NonInteractive -File $Build Help)
        $LASTEXITCODE | Should -Be 0
        foreach ($task in 'Build', 'Test', 'Package', 'Demo', 'Bench') {
            ($out -match "^\s+$task\s+\S") | Should -Not -BeNullOrEmpty -Because "task $task needs a synopsis line"
        }
    }

    It 'refuses an unknown task with the task list and a non-zero exit code' {
        $err = & $Pwsh -NoProfile -NonInteractive -File $Build 'Deploy-To-Mars' 2>&1 | Out-String
        $LASTEXITCODE | Should -Be 2
        $err | Should -Match "unknown task 'Deploy-To-Mars'"
        $err | Should -Match 'Tasks: .*Build.*Package.*Test'
    }
}
